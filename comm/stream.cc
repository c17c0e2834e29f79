#include "comm/stream.h"

#include <algorithm>
#include <condition_variable>
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
    uint64_t incarnation = 0;  // 0: never heard from
    uint32_t window = 0;
    int inflight = 0;          // outstanding batches at this learner (sent or received)
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

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<uint64_t> unsent;            // guarded by mu: seqs waiting for credit, in order
  std::map<uint64_t, Outgoing> outstanding;  // guarded by mu: every batch not yet accepted
  uint64_t next_seq = 0;                  // guarded by mu
  SenderStats st;                         // guarded by mu
  std::string error;                      // guarded by mu
  bool stop = false;                      // guarded by mu
  std::vector<Learner> learners;          // I/O thread only (alive flags mirrored in live)
  std::atomic<int> live{0};
  size_t rr = 0;
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
      IR_LOG_WARN("comm: actor {} (incarnation {:x}) stops with {} batches not accepted by any "
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
        std::vector<zmq::pollitem_t> items;
        for (auto& l : learners) items.push_back({l.socket->handle(), 0, ZMQ_POLLIN, 0});
        items.push_back({nullptr, wake.fd(), ZMQ_POLLIN, 0});
        int64_t now = SteadyMs();
        long timeout = std::clamp<int64_t>(next_hello - now, 0, 50);
        zmq::poll(items.data(), items.size(), std::chrono::milliseconds(timeout));
        if (items.back().revents & ZMQ_POLLIN) wake.Drain();
        for (size_t i = 0; i < learners.size(); ++i)
          if (items[i].revents & ZMQ_POLLIN) ReadFrom(static_cast<int>(i));
        now = SteadyMs();
        if (now >= next_hello) {
          for (auto& l : learners)
            TrySend(*l.socket, FrameMessage(EncodeMessage(MsgType::kHello, actor_id,
                                                          HelloPayload(actor_id, incarnation))));
          next_hello = now + opt.heartbeat_ms;
        }
        CheckLiveness(now);
        Dispatch(now);
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu);
      error = std::string("actor stream I/O thread failed: ") + e.what();
      IR_LOG_ERROR("comm: {}", error);
      cv.notify_all();
    }
  }

  void ReadFrom(int li) {
    Learner& l = learners[li];
    while (true) {
      zmq::message_t m;
      if (!l.socket->recv(m, zmq::recv_flags::dontwait)) return;
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
          IR_LOG_WARN("comm: actor {}: learner {} restarted (incarnation {:x} -> {:x}); re-sending "
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
        IR_LOG_WARN("comm: actor {}: learner {} silent for {} ms (peer_timeout_ms); presumed gone, "
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
        return !s.error.empty() || s.unsent.size() < static_cast<size_t>(s.opt.actor_pending_batches);
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
  // The I/O thread needs waking only when this is the first batch waiting: otherwise it was woken
  // for the earlier one and has not run yet, or it waits for credit, which an ACK brings.
  const bool first = s.unsent.empty();
  s.unsent.push_back(seq);
  ++s.st.queued;
  lock.unlock();
  if (first) s.wake.Signal();
  if (seq_out) *seq_out = seq;
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
    std::set<uint64_t> queued;         // received, not yet taken
    std::set<uint64_t> taken;          // taken recently (bounded; see kTakenMemory)
    std::deque<uint64_t> taken_order;
  };
  struct Item {
    Key key;
    uint64_t seq;
    TrajectoryBatch batch;
  };
  static constexpr size_t kTakenMemory = 4096;

  zmq::context_t& ctx;
  StreamOptions opt;
  int rank;
  uint64_t incarnation = RandomNonZeroU64();
  std::string endpoint;
  zmq::socket_t socket;
  std::shared_ptr<ZapHandler> zap;
  WakeFd wake;
  WireStats wire;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<Item> queue;                 // guarded by mu
  std::vector<std::pair<Key, uint64_t>> taken;  // guarded by mu: to acknowledge
  ReceiverStats st;                       // guarded by mu
  std::string error;                      // guarded by mu
  bool stop = false;                      // guarded by mu
  std::map<Key, Peer> peers;              // I/O thread only
  // I/O thread only: receipts owed from the current ReadAll pass, sent as one RECEIPT message per
  // actor incarnation.
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
    if (thread.joinable()) thread.join();
  }

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
      IR_LOG_DEBUG("comm: learner {}: actor {} (incarnation {:x}) joined", rank, key.first, key.second);
    }
    return it->second;
  }

  void Loop() {
    try {
      while (true) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (stop) return;
        }
        zmq::pollitem_t items[2] = {{socket.handle(), 0, ZMQ_POLLIN, 0},
                                    {nullptr, wake.fd(), ZMQ_POLLIN, 0}};
        zmq::poll(items, 2, std::chrono::milliseconds(std::min(50, opt.heartbeat_ms)));
        if (items[1].revents & ZMQ_POLLIN) wake.Drain();
        if (items[0].revents & ZMQ_POLLIN) ReadAll();
        int64_t now = SteadyMs();
        SendAcks();
        Expire(now);
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu);
      error = std::string("learner stream I/O thread failed: ") + e.what();
      IR_LOG_ERROR("comm: learner {}: {}", rank, error);
      cv.notify_all();
    }
  }

  void FlushReceipts() {
    for (auto& [key, seqs] : receipts) {
      auto it = peers.find(key);
      if (it != peers.end()) SendTo(it->second.route, MsgType::kReceipt, SeqsPayload(key.second, seqs));
    }
    receipts.clear();
  }

  void ReadAll() {
    while (ReadOne()) {
    }
    FlushReceipts();
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
      IR_LOG_ERROR("comm: learner {}: batch {} from actor {} does not decode ({}); refused",
                   rank, seq, actor, why);
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
  }

  void BadPayload(const std::string& peer) {
    wire.Record(WireReject::kBadPayload, peer);
    std::lock_guard<std::mutex> lock(mu);
    ++st.malformed;
  }

  void SendAcks() {
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
    }
    for (const auto& [key, seqs] : by_peer) SendTo(peers.at(key).route, MsgType::kAck, SeqsPayload(key.second, seqs));
  }

  void Expire(int64_t now) {
    for (auto it = peers.begin(); it != peers.end();) {
      if (now - it->second.last_seen_ms > opt.peer_timeout_ms) {
        IR_LOG_WARN("comm: learner {}: actor {} (incarnation {:x}) silent for {} ms "
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
  std::unique_lock<std::mutex> lock(s.mu);
  bool ok = s.cv.wait_for(lock, timeout, [&] { return !s.error.empty() || !s.queue.empty(); });
  if (!s.error.empty() && s.queue.empty())
    Fail(ErrorCode::kUnavailable, "learner ", s.rank, " (", s.endpoint, "): ", s.error);
  if (!ok) return false;
  Impl::Item item = std::move(s.queue.front());
  s.queue.pop_front();
  // One wake-up per batch of acknowledgements: a non-empty list has a wake-up pending already.
  const bool first = s.taken.empty();
  s.taken.emplace_back(item.key, item.seq);
  ++s.st.delivered;
  lock.unlock();
  if (first) s.wake.Signal();
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
