// The weight broadcast's publisher (learner rank 0): comm/weights.h.
#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <set>
#include <thread>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/mutex.h"
#include "comm/security.h"
#include "comm/weights.h"
#include "comm/weights_internal.h"
#include "comm/wire.h"
#include "comm/zmq_util.h"

namespace iranker::comm {

struct WeightPublisher::Impl {
  struct Version {
    uint64_t version = 0;
    std::shared_ptr<const std::string> blob;
    std::vector<uint64_t> chunk_hash;
    uint64_t blob_hash = 0;
    size_t chunk_bytes = 0;
  };

  WeightsOptions opt;
  uint64_t id;
  zmq::socket_t socket;
  std::shared_ptr<ZapHandler> zap;
  std::string endpoint;
  WakeFd wake;
  WireStats wire;
  mutable Mutex mu;
  std::shared_ptr<const Version> current IR_GUARDED_BY(mu);
  bool announce_pending IR_GUARDED_BY(mu) = false;
  bool stop IR_GUARDED_BY(mu) = false;
  PublisherStats st IR_GUARDED_BY(mu);
  std::string error IR_GUARDED_BY(mu);         // why the I/O thread stopped: Publish throws it
  std::map<std::string, int64_t> subscribers;  // I/O thread only: route -> last seen
  std::shared_ptr<BlobRecycler> recycler = std::make_shared<BlobRecycler>();
  std::thread thread;

  // The group path (comm/weight_group.h). Live capable subscribers are the group thread's: the
  // I/O thread announces a new version to them only when the group thread asks it to.
  struct Capable {
    int64_t seen_ms = 0;
    uint64_t epoch = 0;  // the group it reported being in
  };
  std::unique_ptr<GroupTransport> transport;
  bool group_on IR_GUARDED_BY(mu) = false;                   // a transport and its thread alive
  std::map<std::string, Capable> capable IR_GUARDED_BY(mu);  // route -> its last POLL
  std::set<std::string> members IR_GUARDED_BY(mu);           // routes of the current group
  // The newest version the group dealt with.
  std::shared_ptr<const Version> group_done IR_GUARDED_BY(mu);
  // Messages the group thread leaves for the I/O thread to send.
  std::vector<std::pair<std::string, zmq::message_t>> outbox IR_GUARDED_BY(mu);
  CondVar group_cv;
  std::thread group_thread;

  Impl(zmq::context_t& ctx, const WeightsOptions& o, uint64_t publisher_id,
       std::unique_ptr<GroupTransport> g)
      : opt(o),
        id(publisher_id),
        socket(ctx, zmq::socket_type::router),
        transport(std::move(g)),
        group_on(transport != nullptr) {
    CheckBindAllowed(opt.endpoint, opt.security);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::router_mandatory, 1);
    socket.set(zmq::sockopt::sndhwm, 100000);
    socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(1 << 20));  // requests are small
    zap = ApplyServerSecurity(ctx, socket, opt.security, "iranker-weights");
    endpoint = BindResolved(socket, opt.endpoint);
    thread = std::thread([this] {
      NameThisThread("ir-weights-pub");
      Loop();
    });
    if (transport) group_thread = StartGroupThread(this);
  }
  ~Impl() {
    {
      MutexLock lock(mu);
      stop = true;
    }
    wake.Signal();
    group_cv.SignalAll();
    // Within one peer_timeout_ms: no join or broadcast starts once `stop` is set, and one under
    // way is bounded by it.
    if (group_thread.joinable()) group_thread.join();
    thread.join();
  }

  // `pushed`: the first chunks, sent right after this announce without being requested.
  std::string AnnouncePayload(const Version* v, uint32_t pushed) {
    std::string p;
    ByteWriter w(&p);
    w.Put<uint64_t>(v ? v->version : 0);
    w.Put<uint64_t>(v ? v->blob->size() : 0);
    w.Put<uint64_t>(v ? v->chunk_bytes : 0);
    w.Put<uint32_t>(v ? static_cast<uint32_t>(v->chunk_hash.size()) : 0);
    w.Put<uint64_t>(v ? v->blob_hash : 0);
    w.Put<uint32_t>(pushed);
    return p;
  }

  // Queues chunk `chunk` of `v` to `route` (header frame, then the data zero-copy from the blob).
  bool SendChunk(const std::string& route, const Version& v, uint32_t chunk) IR_EXCLUDES(mu) {
    size_t off = static_cast<size_t>(chunk) * v.chunk_bytes;
    size_t n = std::min(v.chunk_bytes, v.blob->size() - off);
    std::string hdr;
    ByteWriter w(&hdr);
    w.Put(v.version);
    w.Put(chunk);
    w.Put<uint64_t>(off);
    w.Put<uint64_t>(n);
    w.Put(v.chunk_hash[chunk]);
    if (!TrySend(socket, zmq::message_t(route.data(), route.size()), true)) return false;
    socket.send(Frame(MsgType::kWeightsChunk, id, hdr), zmq::send_flags::sndmore);
    socket.send(SharedSliceMessage(v.blob, off, n), zmq::send_flags::none);
    MutexLock lock(mu);
    ++st.chunks_sent;
    st.bytes_sent += n;
    return true;
  }

  void Loop() IR_EXCLUDES(mu) {
    try {
      while (true) {
        std::shared_ptr<const Version> v;
        bool announce;
        std::vector<std::pair<std::string, zmq::message_t>> out;
        std::set<std::string> grouped;  // live capable routes: the group thread serves them
        int64_t now = SteadyMs();
        {
          MutexLock lock(mu);
          if (stop) return;
          v = current;
          announce = announce_pending;
          announce_pending = false;
          out.swap(outbox);
          for (auto it = capable.begin(); it != capable.end();) {
            if (now - it->second.seen_ms > opt.peer_timeout_ms) {
              it = capable.erase(it);
            } else {
              grouped.insert(it->first);
              ++it;
            }
          }
          st.group_capable = static_cast<int>(grouped.size());
        }
        for (auto& [route, msg] : out)
          if (TrySend(socket, zmq::message_t(route.data(), route.size()), true))
            socket.send(std::move(msg), zmq::send_flags::none);
        for (auto it = subscribers.begin(); it != subscribers.end();)
          it = now - it->second > opt.peer_timeout_ms ? subscribers.erase(it) : std::next(it);
        if (announce && v) {
          // Each live subscriber gets the announce and, behind it, its first window of chunks
          // (chunks_in_flight, its credit): a round trip less per version, the whole of a
          // small model's weights without a single request.
          const uint32_t push = static_cast<uint32_t>(
              std::min<size_t>(static_cast<size_t>(opt.chunks_in_flight), v->chunk_hash.size()));
          for (const auto& [route, seen] : subscribers) {
            if (grouped.count(route)) continue;
            if (!TrySend(socket, zmq::message_t(route.data(), route.size()), true)) continue;
            socket.send(Frame(MsgType::kWeightsAnnounce, id, AnnouncePayload(v.get(), push)),
                        zmq::send_flags::none);
            // A chunk that cannot be queued is re-requested once the download stalls.
            uint32_t pushed = 0;
            while (pushed < push && SendChunk(route, *v, pushed)) ++pushed;
            MutexLock lock(mu);
            st.chunks_pushed += pushed;
          }
          MutexLock lock(mu);
          st.announces += subscribers.size();
        }
        {
          MutexLock lock(mu);
          st.subscribers = static_cast<int>(subscribers.size());
        }
        zmq::pollitem_t items[2] = {{socket.handle(), 0, ZMQ_POLLIN, 0},
                                    {nullptr, wake.fd(), ZMQ_POLLIN, 0}};
        zmq::poll(items, 2, std::chrono::milliseconds(100));
        if (items[1].revents & ZMQ_POLLIN) wake.Drain();
        if (items[0].revents & ZMQ_POLLIN) ReadAll(v);
      }
    } catch (const std::exception& e) {
      IR_LOG_ERROR("comm: weight publisher {} I/O thread failed: {}", endpoint, e.what());
      MutexLock lock(mu);
      error = std::string("I/O thread failed: ") + e.what();
    }
  }

  void ReadAll(const std::shared_ptr<const Version>& v) IR_EXCLUDES(mu) {
    while (true) {
      zmq::message_t route, body;
      if (!socket.recv(route, zmq::recv_flags::dontwait)) return;
      if (!route.more()) continue;
      if (!socket.recv(body, zmq::recv_flags::none)) return;
      TsanAcquire(body);
      while (body.more()) {
        zmq::message_t extra;
        if (!socket.recv(extra, zmq::recv_flags::none) || !extra.more()) break;
      }
      std::string r = route.to_string();
      subscribers[r] = SteadyMs();
      MessageView m;
      if (!DecodeChecked(body.data(), body.size(), 1 << 20, &wire, "weights subscriber", &m)) {
        MutexLock lock(mu);
        ++st.malformed;
        continue;
      }
      ByteReader rd(m.payload, m.payload_size);
      if (m.type == MsgType::kWeightsPoll) {
        uint64_t known = 0, epoch = 0;
        uint8_t can_join = 0;
        if (!rd.Get(&known) || !rd.Get(&can_join) || !rd.Get(&epoch) || !rd.done() ||
            can_join > 1) {
          wire.Record(WireReject::kBadPayload, "weights subscriber");
          MutexLock lock(mu);
          ++st.malformed;
          continue;
        }
        // A capable subscriber that has a version is told only of the versions the group thread
        // has dealt with: it receives a newer one by group broadcast, or is told to fetch it
        // here when that fails or when it was not part of the group. One with nothing yet (a
        // fresh start) gets the newest at once.
        std::shared_ptr<const Version> answer = v;
        {
          MutexLock lock(mu);
          if (group_on && can_join) {
            capable[r] = Capable{SteadyMs(), epoch};
            if (members.count(r) || known > 0) answer = group_done;
          } else if (group_on) {
            capable.erase(r);  // it stopped offering (its transport refused): not in the next group
          }
        }
        if (TrySend(socket, zmq::message_t(r.data(), r.size()), true))
          socket.send(Frame(MsgType::kWeightsAnnounce, id, AnnouncePayload(answer.get(), 0)),
                      zmq::send_flags::none);
        continue;
      }
      uint64_t version = 0;
      uint32_t chunk = 0;
      if (m.type != MsgType::kWeightsRequest || !rd.Get(&version) || !rd.Get(&chunk) ||
          !rd.done()) {
        wire.Record(WireReject::kBadPayload, "weights subscriber");
        MutexLock lock(mu);
        ++st.malformed;
        continue;
      }
      if (!v || version != v->version || chunk >= v->chunk_hash.size()) {
        std::string p;
        ByteWriter w(&p);
        w.Put<uint64_t>(v ? v->version : 0);
        if (TrySend(socket, zmq::message_t(r.data(), r.size()), true))
          socket.send(Frame(MsgType::kWeightsStale, id, p), zmq::send_flags::none);
        MutexLock lock(mu);
        ++st.stale_replies;
        continue;
      }
      SendChunk(r, *v, chunk);
    }
  }

  // --- the group thread -----------------------------------------------------------------------

  void GroupOff() IR_EXCLUDES(mu) {  // every subscriber is served over ZeroMQ from now on
    MutexLock lock(mu);
    group_on = false;
    capable.clear();
    members.clear();
    st.group_members = 0;
    announce_pending = true;  // those that were left to the group thread hear of the newest
    wake.Signal();
  }

  // True once the publisher is being destroyed; by default throws then, so that no join or
  // broadcast starts that the departing I/O thread could no longer prepare.
  bool Stopping(bool throws = true) IR_EXCLUDES(mu) {
    MutexLock lock(mu);
    if (stop && throws) Fail(ErrorCode::kUnavailable, "weight publisher closing");
    return stop;
  }

  void Queue(const std::string& route, MsgType type, const std::string& payload) IR_REQUIRES(mu) {
    outbox.emplace_back(route, Frame(type, id, payload));
  }

  // After this many versions in a row that the group failed to deliver, the group path is turned
  // off: a setup where it cannot work (say, actors sharing a GPU, which NCCL refuses) would
  // otherwise cost a failed join on every version.
  static constexpr int kFailuresBeforeOff = 3;

  void GroupLoop() IR_EXCLUDES(mu) {
    uint64_t done = 0;               // newest version dealt with
    std::vector<std::string> group;  // routes of the joined group, sorted; empty: none
    uint64_t epoch = 0;
    int64_t joined_ms = 0;
    int failures_in_row = 0;
    while (true) {
      std::shared_ptr<const Version> v;
      std::vector<std::string> want;  // live capable routes (sorted: a map's keys)
      bool stale = false;             // a member reports another group (it restarted or failed)
      {
        MutexLock lock(mu);
        // Woken by Publish and by the destructor; the period only bounds a missed signal.
        while (!stop && !(current && current->version > done))
          group_cv.WaitFor(mu, std::chrono::seconds(1));
        if (stop) return;
        v = current;
        const int64_t now = SteadyMs();
        for (const auto& [route, c] : capable) {
          if (now - c.seen_ms > opt.peer_timeout_ms) continue;
          want.push_back(route);
          // A POLL sent just before the member finished joining may still carry the old epoch
          // (more so on a loaded host): only a report a second past the join counts.
          if (!group.empty() && c.epoch != epoch && c.seen_ms > joined_ms + opt.poll_ms + 1000)
            stale = true;
        }
      }
      try {
        if (want.empty()) {
          transport->Leave();
          group.clear();
        } else {
          if (group.empty() || want != group || stale) {
            Stopping();
            group.clear();
            epoch = Form(want);
            group = want;
            joined_ms = SteadyMs();
          }
          SendByGroup(*v, group, epoch);
          failures_in_row = 0;
        }
      } catch (const std::exception& e) {
        transport->Leave();
        if (Stopping(/*throws=*/false)) return;
        group.clear();
        ++failures_in_row;
        IR_LOG_WARN(
            "comm: weights: group broadcast of version {} to {} actors failed: {}; they fetch it "
            "over "
            "ZeroMQ, and the next version forms a new group",
            v->version, want.size(), e.what());
        {
          MutexLock lock(mu);
          ++st.group_failures;
          members.clear();
          st.group_members = 0;
          for (const auto& route : want)
            Queue(route, MsgType::kWeightsAnnounce, AnnouncePayload(v.get(), 0));
        }
        if (failures_in_row >= kFailuresBeforeOff) {
          IR_LOG_ERROR(
              "comm: weights: the {} group failed {} versions in a row; the group path is off for "
              "the "
              "rest of this run and weights go over ZeroMQ only (set comm.weights.group=none to "
              "skip it)",
              transport->name(), failures_in_row);
          GroupOff();
          return;
        }
      }
      {
        MutexLock lock(mu);
        group_done = v;
        if (group.empty()) {
          members.clear();
          st.group_members = 0;
        }
        // Capable subscribers heard from only after this version's snapshot got nothing yet.
        for (const auto& [route, c] : capable)
          if (!std::binary_search(want.begin(), want.end(), route))
            Queue(route, MsgType::kWeightsAnnounce, AnnouncePayload(v.get(), 0));
      }
      wake.Signal();
      done = v->version;
    }
  }

  // Forms a group of the publisher (rank 0) and `routes` (ranks 1..n); returns its epoch.
  uint64_t Form(const std::vector<std::string>& routes) IR_EXCLUDES(mu) {
    transport->Leave();
    const std::string gid = transport->NewGroupId();
    const uint32_t size = static_cast<uint32_t>(routes.size() + 1);
    uint64_t epoch;
    {
      MutexLock lock(mu);
      epoch = ++st.group_epoch;
      members = std::set<std::string>(routes.begin(), routes.end());
      st.group_members = 0;
      for (uint32_t i = 0; i < routes.size(); ++i) {
        std::string p;
        ByteWriter w(&p);
        w.Put(epoch);
        w.Put(size);
        w.Put<uint32_t>(i + 1);
        w.PutString(gid);
        Queue(routes[i], MsgType::kWeightsGroup, p);
      }
    }
    wake.Signal();
    transport->Join(gid, static_cast<int>(size), 0, opt.peer_timeout_ms);
    IR_LOG_INFO("comm: weights: broadcast group {} formed ({}, {} actors)", epoch,
                transport->name(), routes.size());
    MutexLock lock(mu);
    st.group_members = static_cast<int>(routes.size());
    return epoch;
  }

  void SendByGroup(const Version& v, const std::vector<std::string>& routes, uint64_t epoch)
      IR_EXCLUDES(mu) {
    {
      std::string p;
      ByteWriter w(&p);
      w.Put(epoch);
      w.Put(v.version);
      w.Put<uint64_t>(v.blob->size());
      w.Put<uint64_t>(v.chunk_bytes);
      w.Put<uint32_t>(static_cast<uint32_t>(v.chunk_hash.size()));
      w.Put(v.blob_hash);
      MutexLock lock(mu);
      if (stop) Fail(ErrorCode::kUnavailable, "weight publisher closing");
      for (const auto& route : routes) Queue(route, MsgType::kWeightsGroupSend, p);
    }
    wake.Signal();
    // The root only reads the buffer (the blob was created writable: the cast is well-defined).
    transport->Broadcast(const_cast<char*>(v.blob->data()), v.blob->size(), opt.peer_timeout_ms);
    MutexLock lock(mu);
    ++st.group_broadcasts;
    st.group_bytes += v.blob->size();
  }
};

WeightPublisher::WeightPublisher(zmq::context_t& ctx, const WeightsOptions& options,
                                 uint64_t publisher_id, std::unique_ptr<GroupTransport> group)
    : impl_(std::make_unique<Impl>(ctx, options, publisher_id, std::move(group))) {}
WeightPublisher::~WeightPublisher() = default;

size_t WeightPublisher::Publish(uint64_t version, const std::vector<TensorView>& tensors) {
  Impl& s = *impl_;
  {
    MutexLock lock(s.mu);
    if (!s.error.empty())
      Fail(ErrorCode::kUnavailable, "weight publisher ", s.endpoint, ": ", s.error);
    if (s.current && version <= s.current->version)
      Fail(ErrorCode::kInvalidArgument, "weight version ", version, " does not increase (last ",
           s.current->version, ")");
  }
  auto v = std::make_shared<Impl::Version>();
  v->version = version;
  BlobLayout layout = LayOutWeights(version, tensors);
  std::shared_ptr<std::string> blob = s.recycler->Acquire(layout.size);
  WriteWeights(layout, tensors, blob->data());
  v->blob = std::move(blob);
  v->chunk_bytes = static_cast<size_t>(s.opt.chunk_bytes);
  const std::string& b = *v->blob;
  for (size_t off = 0; off < b.size(); off += v->chunk_bytes)
    v->chunk_hash.push_back(Checksum64(b.data() + off, std::min(v->chunk_bytes, b.size() - off)));
  v->blob_hash = ChunkListHash(v->chunk_hash);
  size_t size = b.size();
  {
    MutexLock lock(s.mu);
    s.current = std::move(v);
    s.announce_pending = true;
    s.st.version = version;
  }
  s.wake.Signal();
  s.group_cv.SignalAll();
  return size;
}

PublisherStats WeightPublisher::stats() const {
  MutexLock lock(impl_->mu);
  return impl_->st;
}
const std::string& WeightPublisher::endpoint() const { return impl_->endpoint; }

}  // namespace iranker::comm
