/* compat: removed by the lead after the merge.
 *
 * channel.c was split into the modules of network/, each with its header
 * and its prefix: frame.h (sl_frame_), barrier.h (sl_barrier_), peer.h
 * (sl_peer_), input_gate.h (sl_in_), output.h (sl_out_). This header only
 * includes them for the files that still include channel.h; include the
 * header of the module you use instead. */
#ifndef SL_CHANNEL_H
#define SL_CHANNEL_H

#include "taskmanager/network/barrier.h"
#include "taskmanager/network/frame.h"
#include "taskmanager/network/input_gate.h"
#include "taskmanager/network/output.h"
#include "taskmanager/network/peer.h"

#endif
