/* The Nexmark event generator (`source: nexmark`, bench/nexmark/loop.c).
 *
 * Event i (i = 0, 1, 2, ...) is a pure function of (seed, i), so subtasks
 * can split the stream by index (taskmanager/source_lanes.h) and a
 * single-loop program can regenerate exactly the same events.
 *
 * It follows the Nexmark generator (github.com/nexmark/nexmark,
 * nexmark-flink: NexmarkConfiguration, GeneratorConfig, Person/Auction/
 * BidGenerator) with its defaults:
 *   event id    = SL_NEXMARK_FIRST_EVENT_ID + i (the Flink source starts at 1)
 *   kind        = id % 50: < 1 person, < 4 auction, else bid (1:3:46)
 *   person ids  = 1000 (FIRST_PERSON_ID) + id / 50: Nexmark's
 *                 lastBase0PersonId, so the first person (event id 50) is 1001
 *   auction ids = 1000 (FIRST_AUCTION_ID) + Nexmark's lastBase0AuctionId:
 *                 1000, 1001, 1002 for event ids 1, 2, 3, ...
 *   date_time   = base_time + i * 1000 / events_per_second (ms; one
 *                 timeline, Nexmark's timestampForEvent with one generator)
 *   bids        1/2 for the hot auction (the first of the last batch of 100
 *               auctions; hotAuctionRatio 2), else one of the last 100
 *               in-flight auctions plus 10 ahead (numInFlightAuctions);
 *               3/4 by the hot bidder (second of the last batch of 100
 *               people; hotBiddersRatio 4), else one of the last 1000
 *               active people plus 10 ahead (numActivePeople);
 *               price = round(10^(6u) * 100), u uniform in [0, 1);
 *               channel: 1/2 one of 4 hot channels with a fixed url, else
 *               "channel-<k>", k < 10000, with a generated url
 *   auctions    seller 3/4 the hot seller (first of the last batch of 100
 *               people; hotSellersRatio 4), else an active person;
 *               category 10 + (0..4); initial_bid a price; reserve =
 *               initial_bid + a price; expires = date_time + 1 + uniform
 *               below 2x the time until 100 more auctions exist;
 *               item_name (3..19 letters), description (3..99 letters)
 *   persons     name from 11 first and 9 last names, email
 *               "<3..6>@<3..4>.com", credit card "dddd dddd dddd dddd",
 *               city (10 US cities) and state (6 US states)
 * The random choices come from SplitMix64 seeded with (seed, event id), not
 * from java.util.Random: the distributions are Nexmark's, the values are
 * not Nexmark's values.
 *
 * As one stream of rows (SL_NEXMARK_FIELDS fields, the union of the three
 * kinds; fields of the other kinds are 0 or ""):
 *   event_type:int (0 person, 1 auction, 2 bid), id:int (person or
 *   auction), name, email, credit_card, city, state, item_name,
 *   description:string, initial_bid, reserve, expires, seller, category,
 *   auction, bidder, price:int, channel, url:string, date_time:int (ms) */
#ifndef SL_NEXMARK_H
#define SL_NEXMARK_H

#include <stdint.h>

#include "common/row.h"

#define SL_NEXMARK_FIRST_EVENT_ID 1
#define SL_NEXMARK_FIRST_PERSON_ID 1000
#define SL_NEXMARK_FIRST_AUCTION_ID 1000
#define SL_NEXMARK_FIRST_CATEGORY_ID 10
#define SL_NEXMARK_PERSON_PROPORTION 1
#define SL_NEXMARK_AUCTION_PROPORTION 3
#define SL_NEXMARK_BID_PROPORTION 46
#define SL_NEXMARK_TOTAL_PROPORTION 50
#define SL_NEXMARK_DEFAULT_RATE 10000000 /* events/s of event time */
#define SL_NEXMARK_FIELDS 20

enum sl_nexmark_type { SL_NEXMARK_PERSON = 0, SL_NEXMARK_AUCTION = 1, SL_NEXMARK_BID = 2 };

/* Field indices of the row form. */
enum sl_nexmark_field {
    SL_NXF_EVENT_TYPE, SL_NXF_ID, SL_NXF_NAME, SL_NXF_EMAIL, SL_NXF_CREDIT_CARD, SL_NXF_CITY,
    SL_NXF_STATE, SL_NXF_ITEM_NAME, SL_NXF_DESCRIPTION, SL_NXF_INITIAL_BID, SL_NXF_RESERVE,
    SL_NXF_EXPIRES, SL_NXF_SELLER, SL_NXF_CATEGORY, SL_NXF_AUCTION, SL_NXF_BIDDER, SL_NXF_PRICE,
    SL_NXF_CHANNEL, SL_NXF_URL, SL_NXF_DATE_TIME,
};

typedef struct sl_nexmark_config {
    uint64_t seed;
    uint64_t events_per_second; /* >= 1 */
    int64_t base_time;          /* ms of event 0 */
} sl_nexmark_config;

/* A string of an event: bytes in the event's own buffer. */
typedef struct sl_nexmark_str {
    const char *ptr;
    uint32_t len;
} sl_nexmark_str;

/* One event. Strings point into buf (or static tables): the event owns
 * them until it is generated again. */
typedef struct sl_nexmark_event {
    int type;
    int64_t date_time;
    /* person: id, name, email, credit_card, city, state */
    /* auction: id, item_name, description, initial_bid, reserve, expires, seller, category */
    int64_t id, initial_bid, reserve, expires, seller, category;
    sl_nexmark_str name, email, credit_card, city, state, item_name, description;
    /* bid */
    int64_t auction, bidder, price;
    sl_nexmark_str channel, url;
    char buf[256];
} sl_nexmark_event;

/* The kind of event i (no other work). */
int sl_nexmark_type_of(uint64_t i);
/* Generates event i into *ev. */
void sl_nexmark_generate(const sl_nexmark_config *c, uint64_t i, sl_nexmark_event *ev);
/* The row form of ev (strings borrowed from ev). */
void sl_nexmark_to_row(const sl_nexmark_event *ev, sl_row *row);
/* The schema of the row form. SL_ENOMEM, or what sl_schema_add returns. */
int sl_nexmark_schema(sl_schema *s);
/* Field names of the row form, by enum sl_nexmark_field. */
extern const char *const sl_nexmark_field_names[SL_NEXMARK_FIELDS];

/* Ids as Nexmark defines them (base 0: without FIRST_*_ID), for event id
 * `id` = SL_NEXMARK_FIRST_EVENT_ID + i: the last person / auction created
 * at or before it. */
int64_t sl_nexmark_last_person(uint64_t id);
int64_t sl_nexmark_last_auction(uint64_t id);

#endif
