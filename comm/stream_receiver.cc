// The trajectory stream's receiving side (learner ranks): comm/stream.h.
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/mutex.h"
#include "base/rng.h"
#include "base/thread_name.h"
#include "comm/security.h"
#include "comm/stream.h"
#include "comm/stream_protocol.h"
#include "comm/zmq_util.h"
#include "trajectory/codec.h"

namespace iranker::comm {

// ----------------------------------------------------------------------------------------------
// Receiver (learner side)

struct TrajectoryReceiver::Impl {
  using Key = std::pair<int32_t, uint64_t>;  // actor id, incarnation
  struct Peer {
    std::string route;
    int64_t last_seen_ms = 0;
    std::set<uint64_t> queued;  // received, not yet taken
    std::set<uint64_t> taken;   // taken recently (bounded; see kTakenMemory)
    std::deque<uint64_t> taken_order;
  };
  struct Item {
    Key key;
    uint64_t seq;
    TrajectoryBatch batch;
  };
  static constexpr size_t kTakenMemory = 4096;

  // A consumer that has been out of Receive this long hands reading back to the I/O thread.
  static constexpr int64_t kHandBackMs = 10;
  // A reading consumer that owes acknowledgements sends them after waiting this long for more.
  static constexpr int64_t kAckDelayMs = 1;

  zmq::context_t& ctx;
  StreamOptions opt;
  int rank;
  uint64_t incarnation = RandomNonZeroU64();
  std::string endpoint;
  zmq::socket_t socket IR_GUARDED_BY(sock_mu);
  int socket_fd = -1;  // ZMQ_FD: readable when the socket may have news (edge-style)
  std::shared_ptr<ZapHandler> zap;
  WakeFd wake;           // wakes the I/O thread
  WakeFd consumer_wake;  // wakes a consumer waiting on the socket in Receive

  // Who reads the socket. By default the I/O thread. A consumer that finds the queue empty in
  // Receive reads it itself (decoding there, answering with ACKs directly) and keeps that role
  // between calls, so a consumer taking batch after batch costs no hand-off between threads;
  // once it has stayed out of Receive for kHandBackMs the I/O thread takes over again, so
  // batches, HELLOs and receipts never wait on a busy learner. Two locks, always taken in this
  // order: sock_mu guards the socket and the peer state (whoever holds it may send and receive),
  // mu the queue and the roles. Whoever releases sock_mu has just received until the socket had
  // nothing, so a later message makes socket_fd readable and wakes whoever waits on it.
  Mutex sock_mu;
  WireStats wire;

  mutable Mutex mu;
  CondVar cv;
  std::deque<Item> queue IR_GUARDED_BY(mu);
  std::vector<std::pair<Key, uint64_t>> taken IR_GUARDED_BY(mu);  // to acknowledge
  ReceiverStats st IR_GUARDED_BY(mu);
  std::string error IR_GUARDED_BY(mu);
  bool stop IR_GUARDED_BY(mu) = false;
  bool consumer_reader IR_GUARDED_BY(mu) = false;   // consumers (not the I/O thread) read
  bool consumer_active IR_GUARDED_BY(mu) = false;   // a consumer is reading or waiting on it
  bool consumer_polling IR_GUARDED_BY(mu) = false;  // ... waiting on socket_fd (wake it)
  int64_t consumer_left_ms IR_GUARDED_BY(mu) = 0;   // when a consumer last left Receive
  std::map<Key, Peer> peers IR_GUARDED_BY(sock_mu);
  // Receipts owed for queued batches, sent as one RECEIPT message per actor incarnation (dropped
  // for batches acknowledged in the same flush: the ACK says more).
  std::map<Key, std::vector<uint64_t>> receipts IR_GUARDED_BY(sock_mu);
  std::atomic<int> live{0};
  std::map<int32_t, int> live_ids IR_GUARDED_BY(mu);  // actor id -> its live incarnations
  std::thread thread;

  Impl(zmq::context_t& c, const StreamOptions& o, int r)
      : ctx(c), opt(o), rank(r), socket(c, zmq::socket_type::router) {
    IR_CHECK(rank >= 0 && rank < static_cast<int>(opt.learner_endpoints.size()));
    const std::string& ep = opt.learner_endpoints[rank];
    CheckBindAllowed(ep, opt.security);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::router_mandatory, 1);
    socket.set(zmq::sockopt::sndhwm, opt.zmq_hwm);
    socket.set(zmq::sockopt::rcvhwm, opt.zmq_hwm);
    socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(opt.max_message_bytes));
    zap = ApplyServerSecurity(ctx, socket, opt.security, "iranker-stream");
    endpoint = BindResolved(socket, ep);
    socket_fd = socket.get(zmq::sockopt::fd);
    thread = std::thread([this] {
      NameThisThread("ir-learner-io");
      Loop();
    });
  }

  ~Impl() {
    {
      MutexLock lock(mu);
      stop = true;
    }
    wake.Signal();
    consumer_wake.Signal();
    if (thread.joinable()) thread.join();
  }

  size_t AckGroup() const { return std::max<size_t>(1, Window() / 2); }

  uint32_t Window() const {
    int n = std::max(1, live.load());
    return static_cast<uint32_t>(std::clamp(opt.learner_queue_batches / n, 1, opt.credit_window));
  }

  void SendTo(const std::string& route, MsgType type, const std::string& payload)
      IR_REQUIRES(sock_mu) {
    TrySendRouted(socket, route, FrameMessage(EncodeMessage(type, rank, payload)));
  }

  Peer& Touch(const Key& key, const std::string& route, int64_t now) IR_REQUIRES(sock_mu)
      IR_EXCLUDES(mu) {
    auto [it, fresh] = peers.try_emplace(key);
    it->second.route = route;
    it->second.last_seen_ms = now;
    if (fresh) {
      live.fetch_add(1);
      MutexLock lock(mu);
      ++live_ids[key.first];
      ++st.actors_joined;
      IR_LOG_DEBUG("comm: learner {}: actor {} (incarnation {:x}) joined", rank, key.first,
                   key.second);
    }
    return it->second;
  }

  void Loop() IR_EXCLUDES(sock_mu, mu) {
    try {
      while (true) {
        bool watch_socket = true;
        {
          MutexLock lock(mu);
          if (stop) return;
          watch_socket = !consumer_reader;
        }
        pollfd fds[2] = {{wake.fd(), POLLIN, 0}, {socket_fd, POLLIN, 0}};
        int timeout = watch_socket ? std::min(50, opt.heartbeat_ms) : static_cast<int>(kHandBackMs);
        if (::poll(fds, watch_socket ? 2 : 1, timeout) < 0 && errno != EINTR)
          Fail(ErrorCode::kInternal, "poll failed: ", std::strerror(errno));
        if (fds[0].revents & POLLIN) wake.Drain();
        MutexLock sock_lock(sock_mu);
        int64_t now = SteadyMs();
        {
          MutexLock lock(mu);
          if (consumer_reader && !consumer_active && now - consumer_left_ms >= kHandBackMs)
            consumer_reader = false;
        }
        // Also while a consumer reads: it may be away (up to kHandBackMs), or waiting on the
        // socket, in which case a batch read here wakes it (Handle).
        SendAcks();
        ReadAll(/*flush_receipts=*/true);
        Expire(now);
      }
    } catch (const std::exception& e) {
      MutexLock lock(mu);
      error = std::string("learner stream I/O thread failed: ") + e.what();
      IR_LOG_ERROR("comm: learner {}: {}", rank, error);
      cv.SignalAll();
    }
  }

  void FlushReceipts() IR_REQUIRES(sock_mu) {
    for (auto& [key, seqs] : receipts) {
      auto it = peers.find(key);
      if (it != peers.end() && !seqs.empty())
        SendTo(it->second.route, MsgType::kReceipt, SeqsPayload(key.second, seqs));
    }
    receipts.clear();
  }

  // Handles everything waiting and ends with a receive that found nothing (see sock_mu). A
  // consumer leaves the receipts for its next SendAcks: the batch it takes now is acknowledged
  // then, and needs no receipt.
  void ReadAll(bool flush_receipts) IR_REQUIRES(sock_mu) IR_EXCLUDES(mu) {
    while (true) {
      while (ReadOne()) {
      }
      if (!flush_receipts || receipts.empty()) return;
      FlushReceipts();
    }
  }

  bool ReadOne() IR_REQUIRES(sock_mu) IR_EXCLUDES(mu) {  // false when nothing is waiting
    zmq::message_t route, body;
    if (!socket.recv(route, zmq::recv_flags::dontwait)) return false;
    if (!route.more()) return true;
    if (!socket.recv(body, zmq::recv_flags::none)) return false;
    TsanAcquire(body);
    while (body.more()) {  // a well-formed peer sends one body frame; drain any extra
      zmq::message_t extra;
      if (!socket.recv(extra, zmq::recv_flags::none)) break;
      if (!extra.more()) break;
    }
    Handle(route.to_string(), body);
    return true;
  }

  void Handle(const std::string& route, const zmq::message_t& body) IR_REQUIRES(sock_mu)
      IR_EXCLUDES(mu) {
    MessageView v;
    std::string peer_name = "actor route " + std::to_string(route.size()) + "B";
    if (!DecodeChecked(body.data(), body.size(), opt.max_message_bytes, &wire, peer_name, &v)) {
      MutexLock lock(mu);
      ++st.malformed;
      return;
    }
    int64_t now = SteadyMs();
    if (v.type == MsgType::kHello) {
      ByteReader r(v.payload, v.payload_size);
      int32_t actor = 0;
      uint64_t inc = 0;
      if (!r.Get(&actor) || !r.Get(&inc) || !r.done()) return BadPayload(peer_name);
      Touch({actor, inc}, route, now);
      SendTo(route, MsgType::kCredit, CreditPayload(incarnation, Window()));
      return;
    }
    if (v.type != MsgType::kBatch) return BadPayload(peer_name);
    int32_t actor = 0;
    uint64_t inc = 0, seq = 0;
    if (!PeekTrajectoryBatchId(v.payload, v.payload_size, &actor, &inc, &seq))
      return BadPayload(peer_name);
    Key key{actor, inc};
    Peer& p = Touch(key, route, now);
    if (p.taken.count(seq)) {
      SendTo(route, MsgType::kAck, SeqsPayload(inc, {seq}));
      MutexLock lock(mu);
      ++st.duplicates;
      return;
    }
    if (p.queued.count(seq)) {
      SendTo(route, MsgType::kReceipt, SeqsPayload(inc, {seq}));
      MutexLock lock(mu);
      ++st.duplicates;
      return;
    }
    {
      MutexLock lock(mu);
      // The windows add up to the queue size; beyond it only when actors outnumber its slots.
      size_t cap = std::max<size_t>(opt.learner_queue_batches, live.load());
      if (queue.size() >= cap) {
        ++st.refused_full;
        SendTo(route, MsgType::kRefuse, RefusePayload(inc, seq, kRefuseFull));
        return;
      }
    }
    Item item{key, seq, {}};
    std::string why;
    if (!DecodeTrajectoryBatch(v.payload, v.payload_size, &item.batch, &why)) {
      IR_LOG_ERROR("comm: learner {}: batch {} from actor {} does not decode ({}); refused", rank,
                   seq, actor, why);
      wire.Record(WireReject::kBadPayload, "actor " + std::to_string(actor));
      SendTo(route, MsgType::kRefuse, RefusePayload(inc, seq, kRefuseMalformed));
      MutexLock lock(mu);
      ++st.malformed;
      return;
    }
    p.queued.insert(seq);
    receipts[key].push_back(seq);
    MutexLock lock(mu);
    ++st.received;
    st.bytes_received += body.size();
    queue.push_back(std::move(item));
    cv.Signal();
    if (consumer_polling) consumer_wake.Signal();
  }

  void BadPayload(const std::string& peer) IR_EXCLUDES(mu) {
    wire.Record(WireReject::kBadPayload, peer);
    MutexLock lock(mu);
    ++st.malformed;
  }

  void SendAcks() IR_REQUIRES(sock_mu) IR_EXCLUDES(mu) {  // then the receipts still owed
    std::vector<std::pair<Key, uint64_t>> acks;
    {
      MutexLock lock(mu);
      acks.swap(taken);
    }
    std::map<Key, std::vector<uint64_t>> by_peer;  // one ACK message per actor incarnation
    for (const auto& [key, seq] : acks) {
      auto it = peers.find(key);
      if (it == peers.end()) continue;  // the actor is gone; its batch was still delivered
      Peer& p = it->second;
      p.queued.erase(seq);
      p.taken.insert(seq);
      p.taken_order.push_back(seq);
      if (p.taken_order.size() > kTakenMemory) {
        p.taken.erase(p.taken_order.front());
        p.taken_order.pop_front();
      }
      by_peer[key].push_back(seq);
      auto owed = receipts.find(key);
      if (owed != receipts.end())
        owed->second.erase(std::remove(owed->second.begin(), owed->second.end(), seq),
                           owed->second.end());
    }
    for (const auto& [key, seqs] : by_peer)
      SendTo(peers.at(key).route, MsgType::kAck, SeqsPayload(key.second, seqs));
    FlushReceipts();
  }

  void Expire(int64_t now) IR_REQUIRES(sock_mu) IR_EXCLUDES(mu) {
    for (auto it = peers.begin(); it != peers.end();) {
      if (now - it->second.last_seen_ms > opt.peer_timeout_ms) {
        IR_LOG_WARN(
            "comm: learner {}: actor {} (incarnation {:x}) silent for {} ms "
            "(peer_timeout_ms); presumed gone, reclaiming its credit ({} of its batches "
            "remain queued and will be delivered)",
            rank, it->first.first, it->first.second, now - it->second.last_seen_ms,
            it->second.queued.size());
        const int32_t id = it->first.first;
        it = peers.erase(it);
        live.fetch_sub(1);
        MutexLock lock(mu);
        if (--live_ids[id] <= 0) live_ids.erase(id);
        ++st.actors_expired;
      } else {
        ++it;
      }
    }
  }
};

TrajectoryReceiver::TrajectoryReceiver(zmq::context_t& ctx, const StreamOptions& options, int rank)
    : impl_(std::make_unique<Impl>(ctx, options, rank)) {}

TrajectoryReceiver::~TrajectoryReceiver() = default;

bool TrajectoryReceiver::Receive(TrajectoryBatch* out, std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  ReleasableMutexLock lock(s.mu);
  bool idle = false;  // waited kAckDelayMs with acknowledgements owed: send them now
  while (true) {
    if (!s.error.empty() && s.queue.empty())
      Fail(ErrorCode::kUnavailable, "learner ", s.rank, " (", s.endpoint, "): ", s.error);
    if (!s.queue.empty()) break;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline || s.stop) {
      s.consumer_left_ms = SteadyMs();
      return false;
    }
    if (s.consumer_active) {  // another consumer reads for us all
      s.cv.WaitUntil(s.mu, deadline);
      continue;
    }
    // Read the socket from this thread (see sock_mu).
    s.consumer_active = true;
    const bool claim = !s.consumer_reader;
    s.consumer_reader = true;
    // Acknowledgements go out in groups of half a window, or once no batch came for a moment:
    // the actor still has credit for the other half meanwhile.
    const bool ack_now = idle || s.taken.size() >= s.AckGroup();
    lock.Unlock();
    if (claim) s.wake.Signal();  // the I/O thread stops waiting on the socket
    try {
      MutexLock sock_lock(s.sock_mu);
      if (ack_now) s.SendAcks();
      s.ReadAll(/*flush_receipts=*/false);
    } catch (const std::exception& e) {
      lock.Lock();
      s.consumer_active = false;
      s.cv.SignalAll();
      Fail(ErrorCode::kUnavailable, "learner ", s.rank, " (", s.endpoint, "): ", e.what());
    }
    lock.Lock();
    if (s.queue.empty() && s.error.empty() && !s.stop) {
      s.consumer_polling = true;
      const bool owed = !s.taken.empty();
      lock.Unlock();
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      if (owed) left = std::min<int64_t>(left, Impl::kAckDelayMs);
      pollfd fds[2] = {{s.consumer_wake.fd(), POLLIN, 0}, {s.socket_fd, POLLIN, 0}};
      const int ready = ::poll(fds, 2, static_cast<int>(std::clamp<int64_t>(left, 0, 50)));
      if (ready == 0 && owed) idle = true;
      if (fds[0].revents & POLLIN) s.consumer_wake.Drain();
      lock.Lock();
      s.consumer_polling = false;
    }
    s.consumer_active = false;
    s.cv.SignalAll();  // another consumer may take over reading
  }
  Impl::Item item = std::move(s.queue.front());
  s.queue.pop_front();
  // Acknowledged by this consumer on its next read, or by the I/O thread: it is woken once per
  // list (a non-empty list has a wake-up pending already) unless consumers read.
  const bool first = s.taken.empty();
  s.taken.emplace_back(item.key, item.seq);
  ++s.st.delivered;
  s.consumer_left_ms = SteadyMs();
  const bool wake_io = first && !s.consumer_reader;
  lock.Unlock();
  if (wake_io) s.wake.Signal();
  *out = std::move(item.batch);
  return true;
}

ReceiverStats TrajectoryReceiver::stats() const {
  MutexLock lock(impl_->mu);
  ReceiverStats st = impl_->st;
  st.queued = impl_->queue.size();
  st.wire_rejects = impl_->wire.Summary();
  return st;
}
int TrajectoryReceiver::live_actors() const { return impl_->live.load(); }

std::vector<int32_t> TrajectoryReceiver::live_actor_ids() const {
  MutexLock lock(impl_->mu);
  std::vector<int32_t> ids;
  for (const auto& [id, n] : impl_->live_ids) ids.push_back(id);
  return ids;
}
uint64_t TrajectoryReceiver::incarnation() const { return impl_->incarnation; }
const std::string& TrajectoryReceiver::endpoint() const { return impl_->endpoint; }

}  // namespace iranker::comm
