/* The cluster commands: taskmanagers. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/json.h"
#include "cli/output.h"
#include "cli/rpc_call.h"
#include "common/status.h"

/* ---- taskmanagers */

static int print_tms_text(const Sluice__Reply *reply)
{
    for (size_t i = 0; i < reply->n_tms; i++) {
        const Sluice__TmInfo *t = reply->tms[i];
        int v6 = strchr(t->host, ':') != NULL;
        printf("%s %s%s%s:%" PRIu32 " %" PRId32 " %" PRIu32 " %" PRIu32 " %s\n", t->tm_id,
               v6 ? "[" : "", t->host, v6 ? "]" : "", t->rpc_port, t->pid, t->slots_total,
               t->slots_free, sl_cli_or_dash(t->state));
    }
    return SL_EXIT_OK;
}

static void json_tm(sl_json *j, const Sluice__TmInfo *t)
{
    sl_json_begin_object(j);
    sl_json_kv_string(j, "id", t->tm_id);
    sl_json_kv_string(j, "host", t->host);
    sl_json_kv_int(j, "rpc-port", t->rpc_port);
    sl_json_kv_int(j, "data-port", t->data_port);
    sl_json_kv_int(j, "pid", t->pid);
    sl_json_kv_int(j, "slots-total", t->slots_total);
    sl_json_kv_int(j, "slots-free", t->slots_free);
    sl_json_kv_string(j, "state", t->state);
    sl_json_end_object(j);
}

static int print_tms_json(const Sluice__Reply *reply)
{
    sl_json j;
    sl_json_init(&j, stdout);
    sl_json_begin_object(&j);
    sl_json_key(&j, "taskmanagers");
    sl_json_begin_array(&j);
    for (size_t i = 0; i < reply->n_tms; i++)
        json_tm(&j, reply->tms[i]);
    sl_json_end_array(&j);
    sl_json_end_object(&j);
    return sl_cli_json_done(&j);
}

int sl_cli_cmd_taskmanagers(sl_cli *cli, const sl_cli_args *a)
{
    Sluice__Request req = SLUICE__REQUEST__INIT;
    Sluice__ListTms lt = SLUICE__LIST_TMS__INIT;
    Sluice__Reply *reply = NULL;
    req.body_case = SLUICE__REQUEST__BODY_LIST_TMS;
    req.list_tms = &lt;
    int rc = sl_cli_call(cli, &req, &reply);
    if (rc == SL_EXIT_OK)
        rc = a->json ? print_tms_json(reply) : print_tms_text(reply);
    sl_cli_free_reply(reply);
    return rc;
}
