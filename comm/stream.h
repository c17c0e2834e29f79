// comm/stream.h — the trajectory stream, actors -> learners, with credit-based flow control.
//
// Topology: learner rank r binds a ROUTER at learner_endpoints[r]; every actor connects one
// DEALER to every learner. Actors and learners may start, stop and restart in any order;
// ZeroMQ reconnects by itself and the protocol below recovers state without a manual step.
//
// Protocol (comm/wire.h frames; sender id = actor id or learner rank):
//   HELLO   actor -> learner  {actor_id, incarnation}, every heartbeat_ms. Registers the actor.
//   CREDIT  learner -> actor  {learner incarnation, window}, the reply to every HELLO. An actor may
//           have at most `window` batches at that learner that the learner has not taken yet.
//   BATCH   actor -> learner  one TrajectoryBatch (actor_id, actor_incarnation, batch_seq set by
//           the sender). Sent only within the window; load-balanced round-robin over learners.
//   RECEIPT learner -> actor  {seqs}: queued at the learner; the actor stops resending them. Left
//           out for a batch whose ACK goes out in the same flush.
//   ACK     learner -> actor  {seqs}: taken by the learner (Receive returned them) = accepted. Only
//           now does the actor forget the batch.
//   REFUSE  learner -> actor  {seq, reason}: not queued (learner queue full -> sent again later;
//           malformed -> dropped by the actor, counted and logged as an error).
// Recovery: a BATCH without RECEIPT after resend_ms is sent again; a learner whose incarnation
// changes (restart) or that is silent for peer_timeout_ms has all of its unaccepted batches sent
// again (to any live learner). Learners de-duplicate by (actor_id, incarnation, seq): a duplicate
// of a queued batch is answered with RECEIPT, of a taken one with ACK, and never delivered twice.
// A learner forgets an actor silent for peer_timeout_ms (logged) and reclaims its window; batches
// it had queued from that actor are still delivered.
// Bounds: a learner queues at most learner_queue_batches (+ at most one per live actor beyond
// that when actors outnumber it); an actor buffers at most actor_pending_batches unsent plus its
// windows in flight. A stalled learner therefore makes Send block, never a queue grow.
// Nothing is dropped silently: every refusal, duplicate, reject and loss is counted in the stats,
// and a sender destroyed with unaccepted batches logs how many.
//
// Threads: each endpoint object runs one I/O thread for heartbeats, timers and whatever arrives
// while no caller is there. The callers do the data path themselves when they can: Send()
// dispatches its batch on the caller's thread (or, when another thread holds the sockets, leaves
// it to that thread, which dispatches it before letting go), and a consumer waiting in Receive()
// reads and decodes from the socket itself and sends the ACKs (in groups of half a window, or when
// no batch came for 1 ms), keeping that role while it calls again within 10 ms; so a steady stream
// costs no hand-off between threads. A socket is used under its lock only, and the I/O thread waits
// on the sockets' ZMQ_FD descriptors, never inside them. The public methods are thread-safe;
// destructors stop and join.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "comm/options.h"
#include "comm/wire.h"
#include "trajectory/record.h"

namespace iranker::comm {

struct SenderStats {
  uint64_t queued = 0;        // batches handed to Send
  uint64_t sent = 0;          // BATCH frames sent, first time
  uint64_t resent = 0;        // BATCH frames sent again (no receipt, learner restart or gone)
  uint64_t acked = 0;         // batches accepted by a learner
  uint64_t refused_full = 0;  // REFUSE(full) received (the batch was sent again later)
  uint64_t rejected = 0;      // REFUSE(malformed): dropped, logged as an error
  uint64_t learner_restarts = 0, learner_timeouts = 0;
  uint64_t outstanding = 0;   // queued but not yet accepted (now)
  uint64_t bytes_sent = 0;    // frame bytes of first sends
  uint64_t wire_rejects = 0;  // malformed frames received
};

class TrajectorySender {
 public:
  // Connects to every learner endpoint. incarnation 0 picks a random one; a restarted actor
  // process gets a new incarnation, which keeps its sequence numbers apart from the old ones.
  TrajectorySender(zmq::context_t& ctx, const StreamOptions& options, int32_t actor_id,
                   uint64_t incarnation = 0);
  ~TrajectorySender();  // stops and joins the I/O thread; logs unaccepted batches as lost

  // Stamps actor_id, actor_incarnation and the next batch_seq into `batch`, encodes it and queues
  // it. Blocks while actor_pending_batches batches wait for credit; returns false at the deadline
  // (back-pressure: the batch is not queued). Throws Error if the I/O thread failed.
  bool Send(TrajectoryBatch batch, std::chrono::milliseconds timeout, uint64_t* seq = nullptr);
  // Waits until every queued batch was accepted; false at the deadline.
  bool Flush(std::chrono::milliseconds timeout);

  SenderStats stats() const;
  uint64_t incarnation() const;
  int live_learners() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ReceiverStats {
  uint64_t received = 0;      // new batches queued
  uint64_t delivered = 0;     // batches taken by Receive (accepted, ACK sent)
  uint64_t duplicates = 0;    // resent batches recognised and not delivered again
  uint64_t refused_full = 0;  // batches refused because the queue was full
  uint64_t malformed = 0;     // frames or payloads that failed to decode
  uint64_t actors_joined = 0, actors_expired = 0;
  uint64_t queued = 0;  // batches waiting for Receive (now)
  uint64_t bytes_received = 0;
  std::string wire_rejects;  // WireStats::Summary()
};

class TrajectoryReceiver {
 public:
  // Binds options.learner_endpoints[rank] (a tcp port of 0 or '*' picks a free one; see
  // endpoint()). Throws Error naming the endpoint when binding fails or is not allowed.
  TrajectoryReceiver(zmq::context_t& ctx, const StreamOptions& options, int rank);
  ~TrajectoryReceiver();

  // Takes the next batch; its actor receives the ACK (the batch is now accepted). Returns false
  // at the deadline. Throws Error if the I/O thread failed.
  bool Receive(TrajectoryBatch* out, std::chrono::milliseconds timeout);

  ReceiverStats stats() const;
  int live_actors() const;
  // The ids of the actors heard from within peer_timeout_ms, ascending.
  std::vector<int32_t> live_actor_ids() const;
  uint64_t incarnation() const;
  const std::string& endpoint() const;  // the bound endpoint, port resolved

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iranker::comm
