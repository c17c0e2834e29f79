// comm/options.h — the trajectory stream's and the weight broadcast's options (the `comm:`
// section of a run's config, beside the all-reduce's collective/options.h): endpoints, flow
// control, time-outs, message limits and security. Every field documents its default and its
// trade-off; times are milliseconds.
#pragma once

#include <string>
#include <vector>

#include "base/fields.h"

namespace iranker::comm {

// ZeroMQ CURVE (encryption + authentication). Key files are written by `iranker keygen`.
struct SecurityOptions {
  // Encrypt and authenticate every stream and weight connection. Off by default: loopback only.
  bool curve = false;
  // This process's key pair as written by `iranker keygen` (NAME.key holds the secret key,
  // NAME.pub the public key, Z85 text).
  std::string secret_key_file;
  std::string public_key_file;
  // Servers (learners, the weight publisher): the public key of the server a client connects to.
  std::string server_public_key_file;
  // Servers: file of authorised client public keys, one Z85 key per line (lines starting
  // with '#' are comments).
  std::string authorized_keys_file;
  // Permit binding a non-loopback endpoint without CURVE. Off: such a bind is refused.
  bool allow_insecure_remote = false;

  template <class V>
  void Visit(V& v) {
    v.Field("curve", curve, "Encrypt and authenticate connections with ZeroMQ CURVE.");
    v.Field("secret_key_file", secret_key_file, "This process's secret key (iranker keygen).");
    v.Field("public_key_file", public_key_file, "This process's public key (iranker keygen).");
    v.Field("server_public_key_file", server_public_key_file,
            "Clients: the public key of the learner/publisher they connect to.");
    v.Field("authorized_keys_file", authorized_keys_file,
            "Servers: authorised client public keys, one per line.");
    v.Field("allow_insecure_remote", allow_insecure_remote,
            "Allow a non-loopback bind without CURVE (not recommended).");
    v.Check(!curve || (!secret_key_file.empty() && !public_key_file.empty()), "curve",
            "needs secret_key_file and public_key_file");
  }
};

// The trajectory stream actors -> learners (comm/stream.h).
struct StreamOptions {
  // One endpoint per learner rank; learner rank r binds learner_endpoints[r], every actor
  // connects to all of them. inproc:// (same process), ipc:// (same host) or tcp://.
  std::vector<std::string> learner_endpoints = {"tcp://127.0.0.1:5700"};
  // Batches one actor may have at one learner that the learner has not taken yet (its window).
  int credit_window = 4;
  // Batches a learner queues in total; the windows it grants add up to at most this (at least
  // one per live actor). A stalled learner therefore holds at most max(queue, actors) batches.
  int learner_queue_batches = 16;
  // Batches an actor buffers before Send blocks (back-pressure reaches the rollout loop).
  int actor_pending_batches = 2;
  // Heartbeat period; a peer silent for peer_timeout_ms is declared gone (logged) and its
  // credit reclaimed / its unaccepted batches re-sent elsewhere.
  int heartbeat_ms = 200;
  int peer_timeout_ms = 3000;
  // A sent batch without a receipt after this long is sent again (de-duplicated by the learner).
  int resend_ms = 1000;
  // Frames over this size are rejected by the decoder.
  int64_t max_message_bytes = 256ll << 20;
  // Per-socket ZeroMQ high-water mark (messages).
  int zmq_hwm = 1000;
  SecurityOptions security;

  template <class V>
  void Visit(V& v) {
    v.Field("learner_endpoints", learner_endpoints, "Endpoint of each learner rank.");
    v.Field("credit_window", credit_window, "Max untaken batches per actor per learner.",
            Range(1, 1 << 20));
    v.Field("learner_queue_batches", learner_queue_batches, "Batches a learner queues in total.",
            Range(1, 1 << 20));
    v.Field("actor_pending_batches", actor_pending_batches,
            "Batches an actor buffers before Send blocks.", Range(1, 1 << 20));
    v.Field("heartbeat_ms", heartbeat_ms, "Heartbeat period (ms).", Range(1, 3600000));
    v.Field("peer_timeout_ms", peer_timeout_ms, "Silence after which a peer is gone (ms).",
            Range(1, 3600000));
    v.Field("resend_ms", resend_ms, "Resend a batch without receipt after this (ms).",
            Range(1, 3600000));
    v.Field("max_message_bytes", max_message_bytes, "Largest accepted frame (bytes).",
            Range(64, 1ll << 32));
    v.Field("zmq_hwm", zmq_hwm, "ZeroMQ high-water mark (messages).", Range(1, 1 << 24));
    v.Section("security", security, "CURVE keys and bind policy.");
    v.Check(!learner_endpoints.empty(), "learner_endpoints", "needs at least one endpoint");
    v.Check(peer_timeout_ms > heartbeat_ms, "peer_timeout_ms", "must exceed heartbeat_ms");
  }
};

// The weight broadcast's group path (comm.weights.group).
enum class WeightsGroup { kNone, kNccl };
inline const EnumNames<WeightsGroup>& NamesOf(WeightsGroup) {
  static const EnumNames<WeightsGroup> names = {{WeightsGroup::kNone, "none"},
                                                {WeightsGroup::kNccl, "nccl"}};
  return names;
}

// Weight broadcast learner rank 0 -> actors (comm/weights.h).
struct WeightsOptions {
  std::string endpoint = "tcp://127.0.0.1:5800";
  // Chunk size: large enough to amortise per-message cost, small enough to pipeline.
  int64_t chunk_bytes = 4ll << 20;
  // Chunk requests a subscriber keeps in flight (its credit towards the publisher).
  int chunks_in_flight = 8;
  // Subscriber poll period for a newer version; also the heartbeat.
  int poll_ms = 100;
  // A download making no progress for this long restarts; Fetch/Wait deadlines are per call.
  // Also bounds a group join or broadcast (comm.weights.group), and how long a subscriber that
  // stopped polling still counts as live.
  int peer_timeout_ms = 5000;
  // Whole-blob limit a subscriber accepts (bounds its allocation).
  int64_t max_blob_bytes = 16ll << 30;
  // "nccl": learner rank 0 and the actors on GPUs also form an NCCL group and each new version
  // goes out as one ncclBroadcast, ZeroMQ staying the control plane and the fallback
  // (comm/weight_group.h); needs model.device=cuda and a build with NCCL. "none": ZeroMQ only.
  WeightsGroup group = WeightsGroup::kNone;
  SecurityOptions security;

  template <class V>
  void Visit(V& v) {
    v.Field("endpoint", endpoint, "Publisher (learner rank 0) endpoint.");
    v.Field("chunk_bytes", chunk_bytes, "Chunk size (bytes).", Range(4096, 1ll << 30));
    v.Field("chunks_in_flight", chunks_in_flight, "Chunk requests in flight per subscriber.",
            Range(1, 1024));
    v.Field("poll_ms", poll_ms, "Poll period for new versions (ms).", Range(1, 3600000));
    v.Field("peer_timeout_ms", peer_timeout_ms,
            "Stalled download restarts after (ms); bounds a group join or broadcast.",
            Range(1, 3600000));
    v.Field("max_blob_bytes", max_blob_bytes, "Largest weight set accepted (bytes).", AtLeast(1));
    v.Field("group", group, "Group broadcast of new versions besides ZeroMQ: none or nccl (GPUs).");
    v.Section("security", security, "CURVE keys and bind policy.");
  }
};

}  // namespace iranker::comm
