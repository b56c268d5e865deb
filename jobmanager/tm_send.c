/* Checkpoint calls to registered taskmanagers (jobmanager.h, tm_send.c
 * section): the one place that decides whether a trigger or notify call may
 * start (the taskmanager is usable and not stalled) and starts it through
 * tm_calls.c with the checkpoint call timeout. Serves the coordinator's
 * send hook (job_view.c). Loop thread, jm->mu held; waits for nothing. */
#include "common/status.h"
#include "jobmanager/jobmanager.h"

int sl_tmsend_call(sl_jm *jm, const sl_tmcall_key *key, const Sluice__Request *req)
{
    sl_tmreg_entry *tm = sl_tmreg_find(jm, key->tm_id);
    if (tm == NULL || !sl_tmreg_usable(tm))
        return SL_EUNREACH;
    if (sl_tmreg_stalled(tm))
        return SL_ETIMEDOUT;
    return sl_tmcall_start(&jm->calls, tm->client, key, req, (int)jm->chk_rpc_timeout_ms);
}

int sl_tmsend_room(sl_jm *jm, const char *tm_id)
{
    return sl_tmcall_room(&jm->calls, tm_id);
}
