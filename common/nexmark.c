/* The Nexmark event generator: see nexmark.h for the model and the
 * Nexmark defaults it follows. */
#include "common/nexmark.h"

#include <math.h>
#include <string.h>

#include "common/status.h"

#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)
#define HOT_RATIO_BATCH 100    /* hot sellers/bidders/auctions: first of the last 100 */
#define HOT_AUCTION_RATIO 2    /* hotAuctionRatio */
#define HOT_SELLERS_RATIO 4    /* hotSellersRatio */
#define HOT_BIDDERS_RATIO 4    /* hotBiddersRatio */
#define IN_FLIGHT_AUCTIONS 100 /* numInFlightAuctions */
#define ACTIVE_PEOPLE 1000     /* numActivePeople */
#define ID_LEAD 10             /* ids not yet created that may be picked */
#define NUM_CATEGORIES 5
#define NUM_CHANNELS 10000
#define HOT_CHANNELS_RATIO 2

const char *const sl_nexmark_field_names[SL_NEXMARK_FIELDS] = {
    "event_type", "id", "name", "email", "credit_card", "city", "state", "item_name",
    "description", "initial_bid", "reserve", "expires", "seller", "category", "auction",
    "bidder", "price", "channel", "url", "date_time",
};

static const char *const first_names[] = {"Peter", "Paul",  "Luke", "John",   "Saul",  "Vicky",
                                          "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
static const char *const last_names[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                         "Walton", "Smith",  "Jones",   "Noris"};
static const char *const cities[] = {"Phoenix", "Los Angeles", "San Francisco", "Boise",
                                     "Portland", "Bend", "Redmond", "Seattle", "Kent",
                                     "Cheyenne"};
static const char *const states[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
static const char *const hot_channels[] = {"Google", "Facebook", "Baidu", "Apple"};
static const char *const hot_urls[] = {
    "https://www.nexmark.com/google/item.htm?query=1",
    "https://www.nexmark.com/facebook/item.htm?query=1",
    "https://www.nexmark.com/baidu/item.htm?query=1",
    "https://www.nexmark.com/apple/item.htm?query=1",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- randomness: SplitMix64 seeded with (seed, event id) ---- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t next64(rng *r)
{
    r->s += GOLDEN;
    return mix64(r->s);
}

/* Uniform in [0, n), n >= 1. */
static uint64_t below(rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)next64(r) * n) >> 64);
}

/* Nexmark's price: round(10^(6u) * 100), u uniform in [0, 1). */
static int64_t price(rng *r)
{
    double u = (double)(next64(r) >> 11) * (1.0 / 9007199254740992.0);

    return (int64_t)llround(exp(u * 6.0 * 2.302585092994046) * 100.0);
}

/* ---- ids ---- */

int sl_nexmark_type_of(uint64_t i)
{
    uint64_t rem = (i + SL_NEXMARK_FIRST_EVENT_ID) % SL_NEXMARK_TOTAL_PROPORTION;

    if (rem < SL_NEXMARK_PERSON_PROPORTION)
        return SL_NEXMARK_PERSON;
    if (rem < SL_NEXMARK_PERSON_PROPORTION + SL_NEXMARK_AUCTION_PROPORTION)
        return SL_NEXMARK_AUCTION;
    return SL_NEXMARK_BID;
}

int64_t sl_nexmark_last_person(uint64_t id)
{
    int64_t epoch = (int64_t)(id / SL_NEXMARK_TOTAL_PROPORTION);
    int64_t off = (int64_t)(id % SL_NEXMARK_TOTAL_PROPORTION);

    if (off >= SL_NEXMARK_PERSON_PROPORTION)
        off = SL_NEXMARK_PERSON_PROPORTION - 1;
    return epoch * SL_NEXMARK_PERSON_PROPORTION + off;
}

int64_t sl_nexmark_last_auction(uint64_t id)
{
    int64_t epoch = (int64_t)(id / SL_NEXMARK_TOTAL_PROPORTION);
    int64_t off = (int64_t)(id % SL_NEXMARK_TOTAL_PROPORTION);

    if (off < SL_NEXMARK_PERSON_PROPORTION) {
        epoch--;
        off = SL_NEXMARK_AUCTION_PROPORTION - 1;
    } else if (off >= SL_NEXMARK_PERSON_PROPORTION + SL_NEXMARK_AUCTION_PROPORTION) {
        off = SL_NEXMARK_AUCTION_PROPORTION - 1;
    } else {
        off -= SL_NEXMARK_PERSON_PROPORTION;
    }
    return epoch * SL_NEXMARK_AUCTION_PROPORTION + off;
}

/* One of the active people (plus a few not yet created), base 0. */
static int64_t active_person(rng *r, uint64_t id)
{
    int64_t people = sl_nexmark_last_person(id) + 1;
    int64_t active = people < ACTIVE_PEOPLE ? people : ACTIVE_PEOPLE;

    return people - active + (int64_t)below(r, (uint64_t)(active + ID_LEAD));
}

/* One of the auctions likely in flight (plus a few ahead), base 0. */
static int64_t in_flight_auction(rng *r, uint64_t id)
{
    int64_t last = sl_nexmark_last_auction(id);
    int64_t lo = last - IN_FLIGHT_AUCTIONS > 0 ? last - IN_FLIGHT_AUCTIONS : 0;

    return lo + (int64_t)below(r, (uint64_t)(last - lo + 1 + ID_LEAD));
}

static int64_t timestamp(const sl_nexmark_config *c, uint64_t i)
{
    uint64_t rate = c->events_per_second ? c->events_per_second : 1;

    return c->base_time + (int64_t)((i / rate) * 1000 + (i % rate) * 1000 / rate);
}

/* ---- strings, written into the event's buffer ---- */

typedef struct writer {
    sl_nexmark_event *ev;
    uint32_t used;
} writer;

static void put(writer *w, const char *s, size_t n, sl_nexmark_str *out)
{
    if (n > sizeof(w->ev->buf) - w->used)
        n = sizeof(w->ev->buf) - w->used;
    memcpy(w->ev->buf + w->used, s, n);
    if (out != NULL) {
        out->ptr = w->ev->buf + w->used;
        out->len = (uint32_t)n;
    }
    w->used += (uint32_t)n;
}

/* Lowercase letters, a length in [min, max]. */
static void letters(writer *w, rng *r, uint32_t min, uint32_t max, sl_nexmark_str *out)
{
    char tmp[128];
    uint32_t n = min + (uint32_t)below(r, max - min + 1);
    uint64_t x = 0;

    if (n > sizeof(tmp))
        n = sizeof(tmp);
    for (uint32_t k = 0; k < n; k++) {
        if (k % 2 == 0)
            x = next64(r);
        tmp[k] = (char)('a' + (((x & 0xffffffffu) * 26) >> 32));
        x >>= 32;
    }
    put(w, tmp, n, out);
}

/* Decimal digits of v, zero-padded to width (0 = none). */
static void number(writer *w, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && n < (int)sizeof(tmp));
    while (n < width && n < (int)sizeof(tmp))
        tmp[sizeof(tmp) - 1 - n++] = '0';
    put(w, tmp + sizeof(tmp) - n, (size_t)n, NULL);
}

/* A string made of the pieces written since start. */
static void since(writer *w, uint32_t start, sl_nexmark_str *out)
{
    out->ptr = w->ev->buf + start;
    out->len = w->used - start;
}

static void pick(rng *r, const char *const *list, size_t n, sl_nexmark_str *out)
{
    const char *s = list[below(r, n)];

    out->ptr = s;
    out->len = (uint32_t)strlen(s);
}

/* ---- the three kinds ---- */

static void gen_person(rng *r, uint64_t id, sl_nexmark_event *ev)
{
    writer w = {ev, 0};
    uint32_t start;
    sl_nexmark_str part;

    ev->id = sl_nexmark_last_person(id) + SL_NEXMARK_FIRST_PERSON_ID;
    start = w.used;
    pick(r, first_names, COUNT(first_names), &part);
    put(&w, part.ptr, part.len, NULL);
    put(&w, " ", 1, NULL);
    pick(r, last_names, COUNT(last_names), &part);
    put(&w, part.ptr, part.len, NULL);
    since(&w, start, &ev->name);
    start = w.used;
    letters(&w, r, 3, 6, NULL);
    put(&w, "@", 1, NULL);
    letters(&w, r, 3, 4, NULL);
    put(&w, ".com", 4, NULL);
    since(&w, start, &ev->email);
    start = w.used;
    for (int k = 0; k < 4; k++) {
        if (k > 0)
            put(&w, " ", 1, NULL);
        number(&w, below(r, 10000), 4);
    }
    since(&w, start, &ev->credit_card);
    pick(r, cities, COUNT(cities), &ev->city);
    pick(r, states, COUNT(states), &ev->state);
}

static void gen_auction(const sl_nexmark_config *c, rng *r, uint64_t i, uint64_t id,
                        sl_nexmark_event *ev)
{
    writer w = {ev, 0};
    int64_t seller;
    uint64_t ahead = (uint64_t)IN_FLIGHT_AUCTIONS * SL_NEXMARK_TOTAL_PROPORTION /
                     SL_NEXMARK_AUCTION_PROPORTION;
    int64_t horizon = timestamp(c, i + ahead) - ev->date_time;

    ev->id = sl_nexmark_last_auction(id) + SL_NEXMARK_FIRST_AUCTION_ID;
    if (below(r, HOT_SELLERS_RATIO) > 0)
        seller = sl_nexmark_last_person(id) / HOT_RATIO_BATCH * HOT_RATIO_BATCH;
    else
        seller = active_person(r, id);
    ev->seller = seller + SL_NEXMARK_FIRST_PERSON_ID;
    ev->category = SL_NEXMARK_FIRST_CATEGORY_ID + (int64_t)below(r, NUM_CATEGORIES);
    ev->initial_bid = price(r);
    ev->expires = ev->date_time + 1 + (int64_t)below(r, horizon * 2 > 1 ? (uint64_t)horizon * 2 : 1);
    letters(&w, r, 3, 19, &ev->item_name);
    letters(&w, r, 3, 99, &ev->description);
    ev->reserve = ev->initial_bid + price(r);
}

static void gen_bid(rng *r, uint64_t id, sl_nexmark_event *ev)
{
    int64_t a, b;

    if (below(r, HOT_AUCTION_RATIO) > 0)
        a = sl_nexmark_last_auction(id) / HOT_RATIO_BATCH * HOT_RATIO_BATCH;
    else
        a = in_flight_auction(r, id);
    ev->auction = a + SL_NEXMARK_FIRST_AUCTION_ID;
    if (below(r, HOT_BIDDERS_RATIO) > 0)
        b = sl_nexmark_last_person(id) / HOT_RATIO_BATCH * HOT_RATIO_BATCH + 1;
    else
        b = active_person(r, id);
    ev->bidder = b + SL_NEXMARK_FIRST_PERSON_ID;
    ev->price = price(r);
    if (below(r, HOT_CHANNELS_RATIO) > 0) {
        uint64_t k = below(r, COUNT(hot_channels));
        ev->channel.ptr = hot_channels[k];
        ev->channel.len = (uint32_t)strlen(hot_channels[k]);
        ev->url.ptr = hot_urls[k];
        ev->url.len = (uint32_t)strlen(hot_urls[k]);
        return;
    }
    writer w = {ev, 0};
    uint64_t k = below(r, NUM_CHANNELS);
    uint32_t start = w.used;
    put(&w, "channel-", 8, NULL);
    number(&w, k, 0);
    since(&w, start, &ev->channel);
    start = w.used;
    put(&w, "https://www.nexmark.com/", 24, NULL);
    for (int d = 0; d < 3; d++) {
        letters(&w, r, 5, 5, NULL);
        put(&w, "/", 1, NULL);
    }
    put(&w, "item.htm?query=1&channel_id=", 28, NULL);
    number(&w, k, 0);
    since(&w, start, &ev->url);
}

void sl_nexmark_generate(const sl_nexmark_config *c, uint64_t i, sl_nexmark_event *ev)
{
    static const sl_nexmark_str empty = {"", 0};
    uint64_t id = i + SL_NEXMARK_FIRST_EVENT_ID;
    rng r = {mix64(c->seed ^ mix64(id * GOLDEN))};

    ev->type = sl_nexmark_type_of(i);
    ev->date_time = timestamp(c, i);
    ev->id = ev->initial_bid = ev->reserve = ev->expires = ev->seller = ev->category = 0;
    ev->auction = ev->bidder = ev->price = 0;
    ev->name = ev->email = ev->credit_card = ev->city = ev->state = empty;
    ev->item_name = ev->description = ev->channel = ev->url = empty;
    if (ev->type == SL_NEXMARK_BID)
        gen_bid(&r, id, ev);
    else if (ev->type == SL_NEXMARK_AUCTION)
        gen_auction(c, &r, i, id, ev);
    else
        gen_person(&r, id, ev);
}

/* ---- row form ---- */

static void set_int(sl_row *row, int f, int64_t v)
{
    row->v[f].type = SL_TYPE_INT;
    row->v[f].u.i = v;
}

static void set_str(sl_row *row, int f, sl_nexmark_str s)
{
    row->v[f].type = SL_TYPE_STRING;
    row->v[f].u.s.ptr = s.ptr;
    row->v[f].u.s.len = s.len;
}

void sl_nexmark_to_row(const sl_nexmark_event *ev, sl_row *row)
{
    row->nfields = SL_NEXMARK_FIELDS;
    set_int(row, SL_NXF_EVENT_TYPE, ev->type);
    set_int(row, SL_NXF_ID, ev->id);
    set_str(row, SL_NXF_NAME, ev->name);
    set_str(row, SL_NXF_EMAIL, ev->email);
    set_str(row, SL_NXF_CREDIT_CARD, ev->credit_card);
    set_str(row, SL_NXF_CITY, ev->city);
    set_str(row, SL_NXF_STATE, ev->state);
    set_str(row, SL_NXF_ITEM_NAME, ev->item_name);
    set_str(row, SL_NXF_DESCRIPTION, ev->description);
    set_int(row, SL_NXF_INITIAL_BID, ev->initial_bid);
    set_int(row, SL_NXF_RESERVE, ev->reserve);
    set_int(row, SL_NXF_EXPIRES, ev->expires);
    set_int(row, SL_NXF_SELLER, ev->seller);
    set_int(row, SL_NXF_CATEGORY, ev->category);
    set_int(row, SL_NXF_AUCTION, ev->auction);
    set_int(row, SL_NXF_BIDDER, ev->bidder);
    set_int(row, SL_NXF_PRICE, ev->price);
    set_str(row, SL_NXF_CHANNEL, ev->channel);
    set_str(row, SL_NXF_URL, ev->url);
    set_int(row, SL_NXF_DATE_TIME, ev->date_time);
}

int sl_nexmark_schema(sl_schema *s)
{
    static const uint32_t strings = (1u << SL_NXF_NAME) | (1u << SL_NXF_EMAIL) |
                                    (1u << SL_NXF_CREDIT_CARD) | (1u << SL_NXF_CITY) |
                                    (1u << SL_NXF_STATE) | (1u << SL_NXF_ITEM_NAME) |
                                    (1u << SL_NXF_DESCRIPTION) | (1u << SL_NXF_CHANNEL) |
                                    (1u << SL_NXF_URL);

    for (int f = 0; f < SL_NEXMARK_FIELDS; f++) {
        sl_type t = (strings >> f) & 1u ? SL_TYPE_STRING : SL_TYPE_INT;
        int rv = sl_schema_add(s, sl_nexmark_field_names[f], t);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}
