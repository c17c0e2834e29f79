// comm/weights.h — policy weights from learner rank 0 to every actor, over ZeroMQ.
//
// The publisher (rank 0) serialises a flat list of named tensors into one blob with a manifest
// (SerializeWeights) under a policy version that must increase with every Publish. It binds a
// ROUTER; each subscriber (actor) connects a DEALER and, on its own I/O thread:
//   POLL     sub -> pub  {version it has}, every poll_ms (also the heartbeat)
//   ANNOUNCE pub -> sub  {version, blob bytes, chunk bytes, chunk count, blob checksum, pushed};
//            the reply to POLL (pushed 0), and sent to recently seen subscribers on every Publish
//            followed by the first `pushed` = min(chunks_in_flight, count) chunks unrequested (the
//            subscriber's window: a round trip less; a small model arrives without a request)
//   REQUEST  sub -> pub  {version, chunk}; at most chunks_in_flight outstanding (credit)
//   CHUNK    pub -> sub  two frames: header {version, chunk, offset, size, XXH3 of the data} and
//            the data itself (sent zero-copy from the published blob)
//   STALE    pub -> sub  the requested version was replaced; the subscriber starts over
// A late joiner's first POLL is answered with the latest version, so it catches up at once. Every
// chunk is checksummed (XXH3 of its data: a mismatch is counted and the chunk re-requested), and
// so is the whole blob: its checksum is the XXH3 of the chunks' checksums in order, which the
// verified chunks must reproduce (one pass over the data on each side, not two).
// A download making no progress for peer_timeout_ms restarts.
//
// The actor never blocks on this: the subscriber downloads in the background, and between
// generation steps the actor asks HasNewer() (non-blocking) and swaps with TakeLatest(). Memory:
// up to one published blob on the publisher; on a subscriber, one blob being downloaded, one
// staged, plus the one the actor holds (with a group transport, one more being received by it).
//
// Given a GroupTransport (comm/weight_group.h: NCCL on GPUs), publisher and subscribers also form
// a broadcast group and new versions reach its members as one group broadcast; ZeroMQ remains the
// control plane and the fallback. Two more messages serve it:
//   GROUP      pub -> sub  {epoch, group size, rank, group id}: join this group
//   GROUP_SEND pub -> sub  {epoch, version, blob bytes, chunk bytes, chunk count, blob checksum}:
//              this version comes as a group broadcast (verified like a download)
// and a POLL carries {version it has, 1 if it can join a group, the group epoch it is in}.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "comm/options.h"
#include "comm/weight_blob.h"
#include "comm/weight_group.h"

namespace iranker::comm {

struct PublisherStats {
  uint64_t version = 0;  // latest published
  uint64_t chunks_sent = 0, bytes_sent = 0, stale_replies = 0, announces = 0;
  uint64_t chunks_pushed = 0;  // of chunks_sent: sent behind an announce, unrequested
  uint64_t malformed = 0;
  int subscribers = 0;  // seen within peer_timeout_ms
  // The group path (a publisher given a GroupTransport).
  int group_capable = 0;     // live subscribers that can join a group
  int group_members = 0;     // members of the current group (0: none)
  uint64_t group_epoch = 0;  // groups formed so far; the current one's epoch
  uint64_t group_broadcasts = 0, group_bytes = 0;
  uint64_t group_failures = 0;  // joins or broadcasts that failed (those versions went by ZeroMQ)
};

class WeightPublisher {
 public:
  // Binds options.endpoint (tcp port 0/'*' picks one; see endpoint()). Throws Error naming it.
  // With `group`, versions also go out as group broadcasts to the subscribers that can join.
  WeightPublisher(zmq::context_t& ctx, const WeightsOptions& options, uint64_t publisher_id = 0,
                  std::unique_ptr<GroupTransport> group = nullptr);
  ~WeightPublisher();
  // Serialises (one copy) and makes `version` the one served. Throws Error(kInvalidArgument)
  // unless version > the previous one. Returns the blob size in bytes.
  size_t Publish(uint64_t version, const std::vector<TensorView>& tensors);
  PublisherStats stats() const;
  const std::string& endpoint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct SubscriberStats {
  uint64_t announced_version = 0;  // newest version the publisher has told us about
  uint64_t staged_version = 0;     // newest complete, verified version ready to take
  uint64_t taken_version = 0;      // last version handed to the caller
  uint64_t versions_received = 0, bytes_received = 0, chunk_rejects = 0, restarts = 0;
  double last_delivery_seconds = 0;  // announce seen -> blob verified, for the last version
  bool publisher_alive = false;
  // The group path (a subscriber given a GroupTransport).
  uint64_t group_epoch = 0;        // the group this subscriber is in (0: none)
  uint64_t versions_by_group = 0;  // of versions_received: by group broadcast
  uint64_t group_failures = 0;     // joins, broadcasts or blobs that failed (fetched over ZeroMQ)
};

class WeightSubscriber {
 public:
  // With `group`, the subscriber offers to join the publisher's broadcast group.
  WeightSubscriber(zmq::context_t& ctx, const WeightsOptions& options, uint64_t subscriber_id,
                   std::unique_ptr<GroupTransport> group = nullptr);
  ~WeightSubscriber();

  // Non-blocking: a complete, verified version newer than the last one taken is ready.
  bool HasNewer() const;
  // Non-blocking: moves the newest ready version into *out; false when there is none newer.
  bool TakeLatest(WeightSet* out);
  // Blocks until a version >= min_version is ready, then takes it; false at the deadline.
  bool WaitFor(uint64_t min_version, WeightSet* out, std::chrono::milliseconds timeout);
  SubscriberStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iranker::comm
