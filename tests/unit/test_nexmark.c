/* Unit tests: the Nexmark generator (common/nexmark.c) -- determinism, the
 * 1:3:46 interleaving by event id, id ranges and hot ids, event time, the
 * row form -- and the job-file checks of `source: nexmark` and
 * `operator: argmax` (common/stage_catalog_nexmark.c, _argmax.c). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/jobfile.h"
#include "common/nexmark.h"
#include "common/status.h"

static const sl_nexmark_config cfg = {42, 1000, 0};

static int same_str(sl_nexmark_str a, sl_nexmark_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static int same_event(const sl_nexmark_event *a, const sl_nexmark_event *b)
{
    return a->type == b->type && a->date_time == b->date_time && a->id == b->id &&
           a->initial_bid == b->initial_bid && a->reserve == b->reserve &&
           a->expires == b->expires && a->seller == b->seller && a->category == b->category &&
           a->auction == b->auction && a->bidder == b->bidder && a->price == b->price &&
           same_str(a->name, b->name) && same_str(a->email, b->email) &&
           same_str(a->credit_card, b->credit_card) && same_str(a->city, b->city) &&
           same_str(a->state, b->state) && same_str(a->item_name, b->item_name) &&
           same_str(a->description, b->description) && same_str(a->channel, b->channel) &&
           same_str(a->url, b->url);
}

START_TEST(test_deterministic)
{
    static sl_nexmark_event a, b;
    sl_nexmark_config other = cfg;
    int differ = 0;

    other.seed = 43;
    for (uint64_t i = 0; i < 5000; i++) {
        sl_nexmark_generate(&cfg, i, &a);
        sl_nexmark_generate(&cfg, 4999 - i, &b); /* another event in between */
        sl_nexmark_generate(&cfg, i, &b);
        ck_assert_msg(same_event(&a, &b), "event %llu differs between calls",
                      (unsigned long long)i);
        sl_nexmark_generate(&other, i, &b);
        differ += !same_event(&a, &b);
    }
    ck_assert_int_gt(differ, 4000); /* the seed matters */
}
END_TEST

START_TEST(test_interleaving)
{
    for (uint64_t block = 0; block < 200; block++) {
        int n[3] = {0, 0, 0};
        for (uint64_t k = 0; k < 50; k++) {
            uint64_t i = block * 50 + k;
            int t = sl_nexmark_type_of(i);
            n[t]++;
            /* by event id = i + 1: id % 50 == 0 person, 1..3 auction, else bid */
            uint64_t r = (i + SL_NEXMARK_FIRST_EVENT_ID) % 50;
            ck_assert_int_eq(t, r == 0 ? SL_NEXMARK_PERSON : r < 4 ? SL_NEXMARK_AUCTION
                                                                    : SL_NEXMARK_BID);
        }
        ck_assert_int_eq(n[SL_NEXMARK_PERSON], 1);
        ck_assert_int_eq(n[SL_NEXMARK_AUCTION], 3);
        ck_assert_int_eq(n[SL_NEXMARK_BID], 46);
    }
}
END_TEST

START_TEST(test_ids)
{
    static sl_nexmark_event ev;
    int64_t persons = 0, auctions = 0, last_ts = -1;
    int hot_auction = 0, hot_bidder = 0, bids = 0;

    for (uint64_t i = 0; i < 100000; i++) {
        sl_nexmark_generate(&cfg, i, &ev);
        ck_assert_int_eq(ev.type, sl_nexmark_type_of(i));
        ck_assert_int_ge(ev.date_time, last_ts);
        ck_assert_int_eq(ev.date_time, (int64_t)(i * 1000 / cfg.events_per_second));
        last_ts = ev.date_time;
        if (ev.type == SL_NEXMARK_PERSON) {
            /* person k is created by event id 50k: ids 1001, 1002, ... */
            ck_assert_int_eq(ev.id, SL_NEXMARK_FIRST_PERSON_ID + ++persons);
            ck_assert_uint_gt(ev.name.len, 0);
            ck_assert_uint_eq(ev.credit_card.len, 19);
            ck_assert_uint_eq(ev.state.len, 2);
        } else if (ev.type == SL_NEXMARK_AUCTION) {
            ck_assert_int_eq(ev.id, SL_NEXMARK_FIRST_AUCTION_ID + auctions++);
            ck_assert_int_ge(ev.seller, SL_NEXMARK_FIRST_PERSON_ID);
            ck_assert_int_le(ev.seller, SL_NEXMARK_FIRST_PERSON_ID + persons + 10);
            ck_assert_int_ge(ev.category, 10);
            ck_assert_int_le(ev.category, 14);
            ck_assert_int_ge(ev.reserve, ev.initial_bid);
            ck_assert_int_gt(ev.expires, ev.date_time);
            ck_assert_uint_ge(ev.item_name.len, 3);
        } else {
            int64_t last_a = SL_NEXMARK_FIRST_AUCTION_ID + auctions - 1;
            int64_t last_p = SL_NEXMARK_FIRST_PERSON_ID + persons;
            bids++;
            /* in flight: the last 100 auctions, or up to 10 ahead */
            ck_assert_int_ge(ev.auction, last_a - 100 > 1000 ? last_a - 100 : 1000);
            ck_assert_int_le(ev.auction, last_a + 10);
            ck_assert_int_ge(ev.bidder, SL_NEXMARK_FIRST_PERSON_ID);
            ck_assert_int_le(ev.bidder, last_p + 11);
            ck_assert_int_ge(ev.price, 100);
            ck_assert_int_le(ev.price, 100000000);
            ck_assert_uint_gt(ev.channel.len, 0);
            ck_assert_uint_gt(ev.url.len, 0);
            hot_auction += ev.auction == (last_a - 1000) / 100 * 100 + 1000;
            hot_bidder += ev.bidder == (sl_nexmark_last_person(i + 1)) / 100 * 100 + 1 + 1000;
        }
    }
    ck_assert_int_eq(persons, 2000);
    ck_assert_int_eq(auctions, 6000);
    /* hot auction about 1/2 of the bids, hot bidder about 3/4 */
    ck_assert_int_gt(hot_auction, bids * 45 / 100);
    ck_assert_int_lt(hot_auction, bids * 60 / 100);
    ck_assert_int_gt(hot_bidder, bids * 70 / 100);
    ck_assert_int_lt(hot_bidder, bids * 82 / 100);
}
END_TEST

START_TEST(test_row_form)
{
    static sl_nexmark_event ev;
    static sl_row row;
    sl_schema s;

    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(sl_nexmark_schema(&s), SL_OK);
    ck_assert_int_eq(s.nfields, SL_NEXMARK_FIELDS);
    ck_assert_int_eq(sl_schema_find(&s, "event_type"), SL_NXF_EVENT_TYPE);
    ck_assert_int_eq(sl_schema_find(&s, "price"), SL_NXF_PRICE);
    ck_assert_int_eq(s.types[SL_NXF_URL], SL_TYPE_STRING);
    ck_assert_int_eq(s.types[SL_NXF_DATE_TIME], SL_TYPE_INT);
    for (uint64_t i = 0; i < 100; i++) {
        sl_nexmark_generate(&cfg, i, &ev);
        sl_nexmark_to_row(&ev, &row);
        ck_assert_int_eq(row.nfields, SL_NEXMARK_FIELDS);
        for (int f = 0; f < SL_NEXMARK_FIELDS; f++)
            ck_assert_int_eq(row.v[f].type, s.types[f]);
        ck_assert_int_eq(row.v[SL_NXF_EVENT_TYPE].u.i, ev.type);
        ck_assert_int_eq(row.v[SL_NXF_AUCTION].u.i, ev.auction);
        if (ev.type != SL_NEXMARK_BID)
            ck_assert_uint_eq(row.v[SL_NXF_URL].u.s.len, 0);
    }
    sl_schema_clear(&s);
}
END_TEST

/* ---- job-file checks ---- */

static int parse(const char *text, char *err, size_t errlen)
{
    sl_job_spec *job = NULL;
    int rv = sl_job_parse("job.yaml", text, strlen(text), 0, &job, err, errlen);

    if (job != NULL)
        sl_job_free(job);
    return rv;
}

#define NX "name: t\npipeline:\n  - name: events\n    source: nexmark\n"

START_TEST(test_jobfile)
{
    char err[512] = "";

    ck_assert_msg(parse(NX "    count: 100\n    watermark: \"date_time, 1 ms\"\n"
                           "  - name: bids\n    operator: filter\n"
                           "    where: \"event_type == 2 and auction % 123 == 0\"\n"
                           "  - name: top\n    operator: argmax\n    key-by: auction\n"
                           "    time-field: date_time\n    size: 10 s\n    slide: 2 s\n"
                           "    field: price\n"
                           "  - name: out\n    sink: blackhole\n",
                           err, sizeof(err)) == SL_OK,
                  "%s", err);
    ck_assert_int_eq(parse(NX "    events-per-second: 0\n  - name: out\n    sink: blackhole\n",
                           err, sizeof(err)),
                     SL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "events-per-second"));
    ck_assert_int_eq(parse(NX "    watermark: \"name, 1 ms\"\n  - name: out\n    sink: blackhole\n",
                           err, sizeof(err)),
                     SL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not an int field"));
    ck_assert_int_eq(parse(NX "  - name: top\n    operator: argmax\n    key-by: auction\n"
                              "    time-field: date_time\n    size: 10 s\n    field: url\n"
                              "  - name: out\n    sink: blackhole\n",
                           err, sizeof(err)),
                     SL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "expected int or double"));
    ck_assert_int_eq(parse(NX "  - name: top\n    operator: argmax\n"
                              "    time-field: date_time\n    size: 10 s\n    field: price\n"
                              "  - name: out\n    sink: blackhole\n",
                           err, sizeof(err)),
                     SL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "key-by"));
}
END_TEST

static Suite *nexmark_suite(void)
{
    Suite *s = suite_create("nexmark");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_interleaving);
    tcase_add_test(tc, test_ids);
    tcase_add_test(tc, test_row_form);
    tcase_add_test(tc, test_jobfile);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(nexmark_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
