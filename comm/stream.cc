#include "comm/stream.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "comm/bytes.h"
#include "comm/security.h"
#include "comm/zmq_util.h"

namespace iranker::comm {

namespace {

enum RefuseReason : uint8_t { kRefuseFull = 1, kRefuseMalformed = 2 };

// Control payloads (declared once here, both directions).
std::string HelloPayload(int32_t actor_id, uint64_t incarnation) {
  std::string p;
  ByteWriter w(&p);
  w.Put(actor_id);
  w.Put(incarnation);
  return p;
}
std::string CreditPayload(uint64_t learner_incarnation, uint32_t window) {
  std::string p;
  ByteWriter w(&p);
  w.Put(learner_incarnation);
  w.Put(window);
  return p;
}
std::string SeqsPayload(uint64_t actor_incarnation, const std::vector<uint64_t>& seqs) {
  std::string p;
  ByteWriter w(&p);
  w.Put(actor_incarnation);
  w.PutArray(seqs);
  return p;
}
std::string RefusePayload(uint64_t actor_incarnation, uint64_t seq, uint8_t reason) {
  std::string p;
  ByteWriter w(&p);
  w.Put(actor_incarnation);
  w.Put(seq);
  w.Put(reason);
  return p;
}

// Sends one frame without blocking; false when the peer cannot take it now (HWM, no connection,
// or an unroutable ROUTER peer).
bool TrySend(zmq::socket_t& s, zmq::message_t&& msg) {
  try {
    return s.send(std::move(msg), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH || e.num() == EAGAIN) return false;
    throw;
  }
}
bool TrySendRouted(zmq::socket_t& s, const std::string& route, zmq::message_t&& msg) {
  try {
    if (!s.send(zmq::buffer(route), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
      return false;
    return s.send(std::move(msg), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH || e.num() == EAGAIN) return false;
    throw;
  }
}

zmq::message_t FrameMessage(std::string frame) {
  return SharedFrameMessage(std::make_shared<const std::string>(std::move(frame)));
}

}  // namespace

// ----------------------------------------------------------------------------------------------
// Sender (actor side)

struct TrajectorySender::Impl {
  enum class State { kQueued, kSent, kReceived };
  struct Outgoing {
    std::shared_ptr<const std::string> frame;
    State state = State::kQueued;
    int learner = -1;
    int64_t sent_ms = 0;
    bool ever_sent = false;
  };
  struct Learner {
    std::string endpoint;
    std::unique_ptr<zmq::socket_t> socket;
    int socket_fd = -1;        // ZMQ_FD: readable when the socket may have news (edge-style)
    uint64_t incarnation = 0;  // 0: never heard from
    uint32_t window = 0;
    int inflight = 0;  // outstanding batches at this learner (sent or received)
    int64_t last_seen_ms = 0;
    int64_t backoff_until_ms = 0;
    bool alive = false;
  };

  zmq::context_t& ctx;
  StreamOptions opt;
  int32_t actor_id;
  uint64_t incarnation;
  WakeFd wake;
  WireStats wire;

  // Two locks, always taken in this order: sock_mu guards the sockets and the per-learner state
  // (whoever holds it may send and receive: the I/O thread, or a Send() caller that dispatches
  // its batch itself, saving the hop through the I/O thread); mu guards the batch bookkeeping
  // that callers wait on. Whoever releases sock_mu has just received on every socket until it
  // had nothing (Pump), so a message that arrives later makes a socket's ZMQ_FD readable and
  // wakes the I/O thread, which waits on those descriptors without touching the sockets.
  std::mutex sock_mu;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<uint64_t> unsent;               // guarded by mu: seqs waiting for credit, in order
  std::map<uint64_t, Outgoing> outstanding;  // guarded by mu: every batch not yet accepted
  uint64_t next_seq = 0;                     // guarded by mu
  SenderStats st;                            // guarded by mu
  std::string error;                         // guarded by mu
  bool stop = false;                         // guarded by mu
  // Set by Send after queueing a batch, cleared by whoever dispatches (holding sock_mu). A Send
  // that finds sock_mu taken leaves its batch to the holder, which pumps again before it is done
  // (PumpQueued), instead of waking the I/O thread: no system call on that path.
  std::atomic<bool> dispatch_pending{false};
  std::vector<Learner> learners;  // guarded by sock_mu (alive flags mirrored in live)
  std::atomic<int> live{0};
  size_t rr = 0;  // guarded by sock_mu
  std::thread thread;

  Impl(zmq::context_t& c, const StreamOptions& o, int32_t id, uint64_t inc)
      : ctx(c), opt(o), actor_id(id), incarnation(inc ? inc : RandomNonZeroU64()) {
    for (const auto& ep : opt.learner_endpoints) {
      Learner l;
      l.endpoint = ep;
      l.socket = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
      l.socket->set(zmq::sockopt::linger, 0);
      l.socket->set(zmq::sockopt::immediate, 1);
      l.socket->set(zmq::sockopt::sndhwm, opt.zmq_hwm);
      l.socket->set(zmq::sockopt::rcvhwm, opt.zmq_hwm);
      l.socket->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(opt.max_message_bytes));
      l.socket->set(zmq::sockopt::reconnect_ivl, 100);
      l.socket->set(zmq::sockopt::reconnect_ivl_max, 1000);
      ApplyClientSecurity(*l.socket, opt.security);
      try {
        l.socket->connect(ep);
        l.socket_fd = l.socket->get(zmq::sockopt::fd);
      } catch (const zmq::error_t& e) {
        Fail(ErrorCode::kInvalidArgument, "actor ", actor_id, ": cannot connect to learner ", ep,
             ": ", e.what());
      }
      learners.push_back(std::move(l));
    }
    thread = std::thread([this] {
      NameThisThread("ir-actor-io");
      Loop();
    });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    wake.Signal();
    if (thread.joinable()) thread.join();
    std::lock_guard<std::mutex> lock(mu);
    if (!outstanding.empty())
      IR_LOG_WARN(
          "comm: actor {} (incarnation {:x}) stops with {} batches not accepted by any "
          "learner; they are lost (sent {}, accepted {})",
          actor_id, incarnation, outstanding.size(), st.sent, st.acked);
  }

  void Loop() {
    try {
      int64_t next_hello = 0;
      while (true) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (stop) return;
        }
        // The descriptors are fixed at construction: reading them needs no lock.
        std::vector<pollfd> fds;
        for (auto& l : learners) fds.push_back({l.socket_fd, POLLIN, 0});
        fds.push_back({wake.fd(), POLLIN, 0});
        int64_t now = SteadyMs();
        int timeout = static_cast<int>(std::clamp<int64_t>(next_hello - now, 0, 50));
        if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR)
          Fail(ErrorCode::kInternal, "poll failed: ", std::strerror(errno));
        if (fds.back().revents & POLLIN) wake.Drain();
        {
          std::lock_guard<std::mutex> sock_lock(sock_mu);
          now = SteadyMs();
          if (now >= next_hello) {
            for (auto& l : learners)
              TrySend(*l.socket, FrameMessage(EncodeMessage(MsgType::kHello, actor_id,
                                                            HelloPayload(actor_id, incarnation))));
            next_hello = now + opt.heartbeat_ms;
          }
          CheckLiveness(now);
          Pump(now);
        }
        PumpQueued();  // batches Send left to us while we held the sockets
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu);
      error = std::string("actor stream I/O thread failed: ") + e.what();
      IR_LOG_ERROR("comm: {}", error);
      cv.notify_all();
    }
  }

  // sock_mu held. Sends what credit allows, handles what every socket has, and ends with a
  // receive that found nothing on every socket (see sock_mu). Dispatching first saves a receive
  // that finds nothing (each costs ZeroMQ a poll and a getpid): credit or ACKs read after it are
  // used by the next round.
  void Pump(int64_t now) {
    for (int round = 0; round < 4; ++round) {
      // Reading the flag orders this dispatch after the queueing of every Send that set it.
      dispatch_pending.exchange(false);
      Dispatch(now);
      if (!DrainAll()) return;  // nothing new (no credit, no ACK) since the dispatch
    }
  }

  // Pumps while a Send has left a batch to dispatch and sock_mu is free; returns at once when
  // another thread holds sock_mu (it pumps before it lets go and then checks again here).
  void PumpQueued() {
    while (dispatch_pending.load()) {
      std::unique_lock<std::mutex> sock_lock(sock_mu, std::try_to_lock);
      if (!sock_lock.owns_lock()) return;
      Pump(SteadyMs());
    }
  }

  bool DrainAll() {  // sock_mu held; true when anything was read
    bool any = false;
    for (size_t i = 0; i < learners.size(); ++i) any |= ReadFrom(static_cast<int>(i));
    return any;
  }

  bool ReadFrom(int li) {  // sock_mu held; reads until the socket has nothing
    Learner& l = learners[li];
    bool any = false;
    while (true) {
      zmq::message_t m;
      if (!l.socket->recv(m, zmq::recv_flags::dontwait)) return any;
      any = true;
      TsanAcquire(m);
      MessageView v;
      if (!DecodeChecked(m.data(), m.size(), opt.max_message_bytes, &wire, l.endpoint, &v)) {
        std::lock_guard<std::mutex> lock(mu);
        ++st.wire_rejects;
        continue;
      }
      Handle(li, v);
    }
  }

  void RequeueLearner(int li) {  // mu held
    std::vector<uint64_t> back;
    for (auto& [seq, o] : outstanding)
      if (o.learner == li && o.state != State::kQueued) {
        o.state = State::kQueued;
        o.learner = -1;
        back.push_back(seq);
      }
    learners[li].inflight = 0;
    // Older batches first, ahead of never-sent ones.
    for (auto it = back.rbegin(); it != back.rend(); ++it) unsent.push_front(*it);
  }

  void Handle(int li, const MessageView& v) {
    Learner& l = learners[li];
    ByteReader r(v.payload, v.payload_size);
    int64_t now = SteadyMs();
    std::lock_guard<std::mutex> lock(mu);
    switch (v.type) {
      case MsgType::kCredit: {
        uint64_t inc = 0;
        uint32_t window = 0;
        if (!r.Get(&inc) || !r.Get(&window) || !r.done()) break;
        if (l.incarnation != 0 && inc != l.incarnation) {
          ++st.learner_restarts;
          IR_LOG_WARN(
              "comm: actor {}: learner {} restarted (incarnation {:x} -> {:x}); re-sending "
              "its {} unaccepted batches",
              actor_id, l.endpoint, l.incarnation, inc, l.inflight);
          RequeueLearner(li);
        }
        l.incarnation = inc;
        l.window = window;
        l.last_seen_ms = now;
        if (!l.alive) {
          l.alive = true;
          live.fetch_add(1);
        }
        return;
      }
      case MsgType::kReceipt:
      case MsgType::kAck: {
        uint64_t inc = 0;
        std::vector<uint64_t> seqs;
        if (!r.Get(&inc) || !r.GetArray(&seqs) || !r.done() || inc != incarnation) break;
        l.last_seen_ms = now;
        for (uint64_t s : seqs) {
          auto it = outstanding.find(s);
          if (it == outstanding.end()) continue;
          Outgoing& o = it->second;
          if (v.type == MsgType::kReceipt) {
            if (o.learner == li && o.state == State::kSent) o.state = State::kReceived;
          } else {
            if (o.state == State::kQueued) {
              unsent.erase(std::remove(unsent.begin(), unsent.end(), s), unsent.end());
            } else {
              learners[o.learner].inflight--;
            }
            outstanding.erase(it);
            ++st.acked;
          }
        }
        cv.notify_all();
        return;
      }
      case MsgType::kRefuse: {
        uint64_t inc = 0, seq = 0;
        uint8_t reason = 0;
        if (!r.Get(&inc) || !r.Get(&seq) || !r.Get(&reason) || !r.done() || inc != incarnation)
          break;
        l.last_seen_ms = now;
        auto it = outstanding.find(seq);
        if (it == outstanding.end() || it->second.learner != li) return;
        l.inflight--;
        if (reason == kRefuseMalformed) {
          ++st.rejected;
          IR_LOG_ERROR("comm: actor {}: learner {} rejected batch {} as malformed; dropped",
                       actor_id, l.endpoint, seq);
          outstanding.erase(it);
          cv.notify_all();
        } else {
          ++st.refused_full;
          it->second.state = State::kQueued;
          it->second.learner = -1;
          unsent.push_front(seq);
          l.backoff_until_ms = now + opt.heartbeat_ms;
        }
        return;
      }
      default:
        break;
    }
    wire.Record(WireReject::kBadPayload, l.endpoint);
    ++st.wire_rejects;
  }

  void CheckLiveness(int64_t now) {
    std::lock_guard<std::mutex> lock(mu);
    for (size_t i = 0; i < learners.size(); ++i) {
      Learner& l = learners[i];
      if (l.alive && now - l.last_seen_ms > opt.peer_timeout_ms) {
        l.alive = false;
        live.fetch_sub(1);
        ++st.learner_timeouts;
        IR_LOG_WARN(
            "comm: actor {}: learner {} silent for {} ms (peer_timeout_ms); presumed gone, "
            "re-sending its {} unaccepted batches to live learners",
            actor_id, l.endpoint, now - l.last_seen_ms, l.inflight);
        RequeueLearner(static_cast<int>(i));
        l.window = 0;
      }
    }
    // Batches without a receipt for resend_ms: the frame or the receipt was lost.
    for (auto& [seq, o] : outstanding) {
      if (o.state != State::kSent || now - o.sent_ms < opt.resend_ms) continue;
      Learner& l = learners[o.learner];
      if (!l.alive) continue;
      if (TrySend(*l.socket, SharedFrameMessage(o.frame))) {
        o.sent_ms = now;
        ++st.resent;
      }
    }
  }

  void Dispatch(int64_t now) {
    std::lock_guard<std::mutex> lock(mu);
    bool progressed = false;
    while (!unsent.empty()) {
      int chosen = -1;
      for (size_t k = 0; k < learners.size(); ++k) {
        size_t i = (rr + k) % learners.size();
        Learner& l = learners[i];
        if (l.alive && l.inflight < static_cast<int>(l.window) && now >= l.backoff_until_ms) {
          chosen = static_cast<int>(i);
          break;
        }
      }
      if (chosen < 0) break;
      Learner& l = learners[chosen];
      uint64_t seq = unsent.front();
      Outgoing& o = outstanding.at(seq);
      if (!TrySend(*l.socket, SharedFrameMessage(o.frame))) {
        l.backoff_until_ms = now + 10;  // HWM or connection not up: try others / later
        continue;
      }
      unsent.pop_front();
      rr = chosen + 1;
      o.state = State::kSent;
      o.learner = chosen;
      o.sent_ms = now;
      l.inflight++;
      if (o.ever_sent) {
        ++st.resent;
      } else {
        o.ever_sent = true;
        ++st.sent;
        st.bytes_sent += o.frame->size();
      }
      progressed = true;
    }
    if (progressed) cv.notify_all();
  }

  void ThrowIfFailed() {  // mu held
    if (!error.empty()) Fail(ErrorCode::kUnavailable, "actor ", actor_id, ": ", error);
  }
};

TrajectorySender::TrajectorySender(zmq::context_t& ctx, const StreamOptions& options,
                                   int32_t actor_id, uint64_t incarnation)
    : impl_(std::make_unique<Impl>(ctx, options, actor_id, incarnation)) {}

TrajectorySender::~TrajectorySender() = default;

bool TrajectorySender::Send(TrajectoryBatch batch, std::chrono::milliseconds timeout,
                            uint64_t* seq_out) {
  Impl& s = *impl_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(s.mu);
  s.ThrowIfFailed();
  if (!s.cv.wait_until(lock, deadline, [&] {
        return !s.error.empty() ||
               s.unsent.size() < static_cast<size_t>(s.opt.actor_pending_batches);
      }))
    return false;
  s.ThrowIfFailed();
  uint64_t seq = s.next_seq++;
  lock.unlock();
  // Encode outside the lock, straight behind the wire header (one copy of the bulk arrays).
  batch.actor_id = s.actor_id;
  batch.actor_incarnation = s.incarnation;
  batch.batch_seq = seq;
  auto frame = std::make_shared<std::string>(kWireHeaderBytes, '\0');
  EncodeTrajectoryBatch(batch, frame.get());
  if (frame->size() > static_cast<size_t>(s.opt.max_message_bytes))
    Fail(ErrorCode::kResourceExhausted, "actor ", s.actor_id, ": batch ", seq, " encodes to ",
         frame->size(), " bytes, over comm max_message_bytes ", s.opt.max_message_bytes);
  SealMessage(MsgType::kBatch, s.actor_id, frame.get());
  lock.lock();
  Impl::Outgoing o;
  o.frame = std::move(frame);
  s.outstanding.emplace(seq, std::move(o));
  s.unsent.push_back(seq);
  ++s.st.queued;
  lock.unlock();
  if (seq_out) *seq_out = seq;
  // Dispatch from this thread when the sockets are free; otherwise whoever holds them pumps
  // again before letting go (credit that arrives later wakes the I/O thread through the sockets).
  s.dispatch_pending.store(true);
  try {
    s.PumpQueued();
  } catch (const zmq::error_t& e) {
    Fail(ErrorCode::kUnavailable, "actor ", s.actor_id, ": sending batch ", seq, ": ", e.what());
  }
  return true;
}

bool TrajectorySender::Flush(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.mu);
  bool ok = s.cv.wait_for(lock, timeout, [&] { return !s.error.empty() || s.outstanding.empty(); });
  s.ThrowIfFailed();
  return ok;
}

SenderStats TrajectorySender::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SenderStats st = impl_->st;
  st.outstanding = impl_->outstanding.size();
  return st;
}
uint64_t TrajectorySender::incarnation() const { return impl_->incarnation; }
int TrajectorySender::live_learners() const { return impl_->live.load(); }

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
  zmq::socket_t socket;
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
  std::mutex sock_mu;
  WireStats wire;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<Item> queue;                       // guarded by mu
  std::vector<std::pair<Key, uint64_t>> taken;  // guarded by mu: to acknowledge
  ReceiverStats st;                             // guarded by mu
  std::string error;                            // guarded by mu
  bool stop = false;                            // guarded by mu
  bool consumer_reader = false;   // guarded by mu: consumers (not the I/O thread) read
  bool consumer_active = false;   // guarded by mu: a consumer is reading or waiting on it
  bool consumer_polling = false;  // guarded by mu: ... waiting on socket_fd (wake it)
  int64_t consumer_left_ms = 0;   // guarded by mu: when a consumer last left Receive
  std::map<Key, Peer> peers;      // guarded by sock_mu
  // Guarded by sock_mu: receipts owed for queued batches, sent as one RECEIPT message per actor
  // incarnation (dropped for batches acknowledged in the same flush: the ACK says more).
  std::map<Key, std::vector<uint64_t>> receipts;
  std::atomic<int> live{0};
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
      std::lock_guard<std::mutex> lock(mu);
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

  void SendTo(const std::string& route, MsgType type, const std::string& payload) {
    TrySendRouted(socket, route, FrameMessage(EncodeMessage(type, rank, payload)));
  }

  Peer& Touch(const Key& key, const std::string& route, int64_t now) {
    auto [it, fresh] = peers.try_emplace(key);
    it->second.route = route;
    it->second.last_seen_ms = now;
    if (fresh) {
      live.fetch_add(1);
      std::lock_guard<std::mutex> lock(mu);
      ++st.actors_joined;
      IR_LOG_DEBUG("comm: learner {}: actor {} (incarnation {:x}) joined", rank, key.first,
                   key.second);
    }
    return it->second;
  }

  void Loop() {
    try {
      while (true) {
        bool watch_socket = true;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (stop) return;
          watch_socket = !consumer_reader;
        }
        pollfd fds[2] = {{wake.fd(), POLLIN, 0}, {socket_fd, POLLIN, 0}};
        int timeout = watch_socket ? std::min(50, opt.heartbeat_ms) : static_cast<int>(kHandBackMs);
        if (::poll(fds, watch_socket ? 2 : 1, timeout) < 0 && errno != EINTR)
          Fail(ErrorCode::kInternal, "poll failed: ", std::strerror(errno));
        if (fds[0].revents & POLLIN) wake.Drain();
        std::lock_guard<std::mutex> sock_lock(sock_mu);
        int64_t now = SteadyMs();
        {
          std::lock_guard<std::mutex> lock(mu);
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
      std::lock_guard<std::mutex> lock(mu);
      error = std::string("learner stream I/O thread failed: ") + e.what();
      IR_LOG_ERROR("comm: learner {}: {}", rank, error);
      cv.notify_all();
    }
  }

  void FlushReceipts() {  // sock_mu held
    for (auto& [key, seqs] : receipts) {
      auto it = peers.find(key);
      if (it != peers.end() && !seqs.empty())
        SendTo(it->second.route, MsgType::kReceipt, SeqsPayload(key.second, seqs));
    }
    receipts.clear();
  }

  // sock_mu held. Handles everything waiting and ends with a receive that found nothing (see
  // sock_mu). A consumer leaves the receipts for its next SendAcks: the batch it takes now is
  // acknowledged then, and needs no receipt.
  void ReadAll(bool flush_receipts) {
    while (true) {
      while (ReadOne()) {
      }
      if (!flush_receipts || receipts.empty()) return;
      FlushReceipts();
    }
  }

  bool ReadOne() {  // false when nothing is waiting
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

  void Handle(const std::string& route, const zmq::message_t& body) {
    MessageView v;
    std::string peer_name = "actor route " + std::to_string(route.size()) + "B";
    if (!DecodeChecked(body.data(), body.size(), opt.max_message_bytes, &wire, peer_name, &v)) {
      std::lock_guard<std::mutex> lock(mu);
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
      std::lock_guard<std::mutex> lock(mu);
      ++st.duplicates;
      return;
    }
    if (p.queued.count(seq)) {
      SendTo(route, MsgType::kReceipt, SeqsPayload(inc, {seq}));
      std::lock_guard<std::mutex> lock(mu);
      ++st.duplicates;
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
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
      std::lock_guard<std::mutex> lock(mu);
      ++st.malformed;
      return;
    }
    p.queued.insert(seq);
    receipts[key].push_back(seq);
    std::lock_guard<std::mutex> lock(mu);
    ++st.received;
    st.bytes_received += body.size();
    queue.push_back(std::move(item));
    cv.notify_one();
    if (consumer_polling) consumer_wake.Signal();
  }

  void BadPayload(const std::string& peer) {
    wire.Record(WireReject::kBadPayload, peer);
    std::lock_guard<std::mutex> lock(mu);
    ++st.malformed;
  }

  void SendAcks() {  // sock_mu held; then the receipts still owed
    std::vector<std::pair<Key, uint64_t>> acks;
    {
      std::lock_guard<std::mutex> lock(mu);
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

  void Expire(int64_t now) {
    for (auto it = peers.begin(); it != peers.end();) {
      if (now - it->second.last_seen_ms > opt.peer_timeout_ms) {
        IR_LOG_WARN(
            "comm: learner {}: actor {} (incarnation {:x}) silent for {} ms "
            "(peer_timeout_ms); presumed gone, reclaiming its credit ({} of its batches "
            "remain queued and will be delivered)",
            rank, it->first.first, it->first.second, now - it->second.last_seen_ms,
            it->second.queued.size());
        it = peers.erase(it);
        live.fetch_sub(1);
        std::lock_guard<std::mutex> lock(mu);
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
  std::unique_lock<std::mutex> lock(s.mu);
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
      s.cv.wait_until(lock, deadline);
      continue;
    }
    // Read the socket from this thread (see sock_mu).
    s.consumer_active = true;
    const bool claim = !s.consumer_reader;
    s.consumer_reader = true;
    // Acknowledgements go out in groups of half a window, or once no batch came for a moment:
    // the actor still has credit for the other half meanwhile.
    const bool ack_now = idle || s.taken.size() >= s.AckGroup();
    lock.unlock();
    if (claim) s.wake.Signal();  // the I/O thread stops waiting on the socket
    try {
      std::lock_guard<std::mutex> sock_lock(s.sock_mu);
      if (ack_now) s.SendAcks();
      s.ReadAll(/*flush_receipts=*/false);
    } catch (const std::exception& e) {
      lock.lock();
      s.consumer_active = false;
      s.cv.notify_all();
      Fail(ErrorCode::kUnavailable, "learner ", s.rank, " (", s.endpoint, "): ", e.what());
    }
    lock.lock();
    if (s.queue.empty() && s.error.empty() && !s.stop) {
      s.consumer_polling = true;
      const bool owed = !s.taken.empty();
      lock.unlock();
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      if (owed) left = std::min<int64_t>(left, Impl::kAckDelayMs);
      pollfd fds[2] = {{s.consumer_wake.fd(), POLLIN, 0}, {s.socket_fd, POLLIN, 0}};
      const int ready = ::poll(fds, 2, static_cast<int>(std::clamp<int64_t>(left, 0, 50)));
      if (ready == 0 && owed) idle = true;
      if (fds[0].revents & POLLIN) s.consumer_wake.Drain();
      lock.lock();
      s.consumer_polling = false;
    }
    s.consumer_active = false;
    s.cv.notify_all();  // another consumer may take over reading
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
  lock.unlock();
  if (wake_io) s.wake.Signal();
  *out = std::move(item.batch);
  return true;
}

ReceiverStats TrajectoryReceiver::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  ReceiverStats st = impl_->st;
  st.queued = impl_->queue.size();
  st.wire_rejects = impl_->wire.Summary();
  return st;
}
int TrajectoryReceiver::live_actors() const { return impl_->live.load(); }
uint64_t TrajectoryReceiver::incarnation() const { return impl_->incarnation; }
const std::string& TrajectoryReceiver::endpoint() const { return impl_->endpoint; }

}  // namespace iranker::comm
