// The trajectory stream's sending side (actors): comm/stream.h.
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
  Mutex sock_mu;
  mutable Mutex mu;
  CondVar cv;
  std::deque<uint64_t> unsent IR_GUARDED_BY(mu);               // seqs waiting for credit, in order
  std::map<uint64_t, Outgoing> outstanding IR_GUARDED_BY(mu);  // every batch not yet accepted
  uint64_t next_seq IR_GUARDED_BY(mu) = 0;
  SenderStats st IR_GUARDED_BY(mu);
  std::string error IR_GUARDED_BY(mu);
  bool stop IR_GUARDED_BY(mu) = false;
  // Set by Send after queueing a batch, cleared by whoever dispatches (holding sock_mu). A Send
  // that finds sock_mu taken leaves its batch to the holder, which pumps again before it is done
  // (PumpQueued), instead of waking the I/O thread: no system call on that path.
  std::atomic<bool> dispatch_pending{false};
  std::vector<Learner> learners IR_GUARDED_BY(sock_mu);  // alive flags mirrored in live
  std::vector<int> socket_fds;  // each learner socket's ZMQ_FD, fixed at construction
  std::atomic<int> live{0};
  size_t rr IR_GUARDED_BY(sock_mu) = 0;
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
        socket_fds.push_back(l.socket_fd);
      } catch (const zmq::error_t& e) {
        Fail(ErrorCode::kInvalidArgument, "actor ", actor_id, ": cannot connect to learner ", ep,
             ": ", e.what());
      }
      learners.push_back(std::move(l));
    }
    // Actors start their round-robin at different learners: actors that produce batches in step
    // spread each step's batches over the ranks instead of all sending their first to learner 0.
    if (!learners.empty() && actor_id >= 0) rr = static_cast<size_t>(actor_id) % learners.size();
    thread = std::thread([this] {
      NameThisThread("ir-actor-io");
      Loop();
    });
  }

  ~Impl() {
    {
      MutexLock lock(mu);
      stop = true;
    }
    wake.Signal();
    if (thread.joinable()) thread.join();
    MutexLock lock(mu);
    if (!outstanding.empty())
      IR_LOG_WARN(
          "comm: actor {} (incarnation {:x}) stops with {} batches not accepted by any "
          "learner; they are lost (sent {}, accepted {})",
          actor_id, incarnation, outstanding.size(), st.sent, st.acked);
  }

  void Loop() IR_EXCLUDES(sock_mu, mu) {
    try {
      int64_t next_hello = 0;
      while (true) {
        {
          MutexLock lock(mu);
          if (stop) return;
        }
        // The descriptors are fixed at construction: reading them needs no lock.
        std::vector<pollfd> fds;
        for (int fd : socket_fds) fds.push_back({fd, POLLIN, 0});
        fds.push_back({wake.fd(), POLLIN, 0});
        int64_t now = SteadyMs();
        int timeout = static_cast<int>(std::clamp<int64_t>(next_hello - now, 0, 50));
        if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR)
          Fail(ErrorCode::kInternal, "poll failed: ", std::strerror(errno));
        if (fds.back().revents & POLLIN) wake.Drain();
        {
          MutexLock sock_lock(sock_mu);
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
      MutexLock lock(mu);
      error = std::string("actor stream I/O thread failed: ") + e.what();
      IR_LOG_ERROR("comm: {}", error);
      cv.SignalAll();
    }
  }

  // sock_mu held. Sends what credit allows, handles what every socket has, and ends with a
  // receive that found nothing on every socket (see sock_mu). Dispatching first saves a receive
  // that finds nothing (each costs ZeroMQ a poll and a getpid): credit or ACKs read after it are
  // used by the next round.
  void Pump(int64_t now) IR_REQUIRES(sock_mu) IR_EXCLUDES(mu) {
    for (int round = 0; round < 4; ++round) {
      // Reading the flag orders this dispatch after the queueing of every Send that set it.
      dispatch_pending.exchange(false);
      Dispatch(now);
      if (!DrainAll()) return;  // nothing new (no credit, no ACK) since the dispatch
    }
  }

  // Pumps while a Send has left a batch to dispatch and sock_mu is free; returns at once when
  // another thread holds sock_mu (it pumps before it lets go and then checks again here).
  void PumpQueued() IR_EXCLUDES(sock_mu, mu) {
    while (dispatch_pending.load()) {
      if (!sock_mu.TryLock()) return;
      MutexLock sock_lock(sock_mu, AdoptLock());
      Pump(SteadyMs());
    }
  }

  bool DrainAll() IR_REQUIRES(sock_mu) IR_EXCLUDES(mu) {  // true when anything was read
    bool any = false;
    for (size_t i = 0; i < learners.size(); ++i) any |= ReadFrom(static_cast<int>(i));
    return any;
  }

  // Reads until the socket has nothing.
  bool ReadFrom(int li) IR_REQUIRES(sock_mu) IR_EXCLUDES(mu) {
    Learner& l = learners[li];
    bool any = false;
    while (true) {
      zmq::message_t m;
      if (!l.socket->recv(m, zmq::recv_flags::dontwait)) return any;
      any = true;
      TsanAcquire(m);
      MessageView v;
      if (!DecodeChecked(m.data(), m.size(), opt.max_message_bytes, &wire, l.endpoint, &v)) {
        MutexLock lock(mu);
        ++st.wire_rejects;
        continue;
      }
      Handle(li, v);
    }
  }

  void RequeueLearner(int li) IR_REQUIRES(sock_mu, mu) {
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

  void Handle(int li, const MessageView& v) IR_REQUIRES(sock_mu) IR_EXCLUDES(mu) {
    Learner& l = learners[li];
    ByteReader r(v.payload, v.payload_size);
    int64_t now = SteadyMs();
    MutexLock lock(mu);
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
        cv.SignalAll();
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
          cv.SignalAll();
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

  void CheckLiveness(int64_t now) IR_REQUIRES(sock_mu) IR_EXCLUDES(mu) {
    MutexLock lock(mu);
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

  void Dispatch(int64_t now) IR_REQUIRES(sock_mu) IR_EXCLUDES(mu) {
    MutexLock lock(mu);
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
    if (progressed) cv.SignalAll();
  }

  void ThrowIfFailed() IR_REQUIRES(mu) {
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
  const auto deadline = Clock::now() + timeout;
  const size_t pending = static_cast<size_t>(s.opt.actor_pending_batches);
  uint64_t seq = 0;
  {
    MutexLock lock(s.mu);
    s.ThrowIfFailed();
    while (s.error.empty() && s.unsent.size() >= pending)
      if (!s.cv.WaitUntil(s.mu, deadline) && s.error.empty() && s.unsent.size() >= pending)
        return false;
    s.ThrowIfFailed();
    seq = s.next_seq++;
  }
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
  {
    MutexLock lock(s.mu);
    Impl::Outgoing o;
    o.frame = std::move(frame);
    s.outstanding.emplace(seq, std::move(o));
    s.unsent.push_back(seq);
    ++s.st.queued;
  }
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
  const auto deadline = Clock::now() + timeout;
  MutexLock lock(s.mu);
  while (s.error.empty() && !s.outstanding.empty())
    if (!s.cv.WaitUntil(s.mu, deadline)) break;
  s.ThrowIfFailed();
  return s.outstanding.empty();
}

SenderStats TrajectorySender::stats() const {
  MutexLock lock(impl_->mu);
  SenderStats st = impl_->st;
  st.outstanding = impl_->outstanding.size();
  return st;
}
uint64_t TrajectorySender::incarnation() const { return impl_->incarnation; }
int TrajectorySender::live_learners() const { return impl_->live.load(); }

}  // namespace iranker::comm
