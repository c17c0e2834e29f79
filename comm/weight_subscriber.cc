// The weight broadcast's subscriber (actors): comm/weights.h.
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

struct WeightSubscriber::Impl {
  struct Download {
    uint64_t version = 0, blob_hash = 0;
    size_t size = 0, chunk_bytes = 0;
    uint32_t nchunks = 0, received = 0;
    std::shared_ptr<std::string> blob;
    std::vector<uint8_t> have;
    std::vector<uint64_t> chunk_hash;  // of each chunk held, as verified against its data
    std::deque<uint32_t> to_request;
    int inflight = 0;
    int64_t announce_ms = 0, progress_ms = 0;
  };

  WeightsOptions opt;
  uint64_t id;
  zmq::socket_t socket;
  WakeFd wake;
  WireStats wire;
  mutable Mutex mu;
  CondVar cv;
  WeightSet staged IR_GUARDED_BY(mu);  // version 0 = none
  SubscriberStats st IR_GUARDED_BY(mu);
  bool stop IR_GUARDED_BY(mu) = false;
  std::string error IR_GUARDED_BY(mu);  // why the I/O thread stopped: the caller's waits throw it
  Download dl;                          // I/O thread only
  std::shared_ptr<BlobRecycler> recycler = std::make_shared<BlobRecycler>();
  std::atomic<int64_t> last_heard_ms{-(1ll << 40)};
  std::thread thread;

  // The group path (comm/weight_group.h): the I/O thread hands GROUP and GROUP_SEND to the group
  // thread, which joins and receives; a version it could not deliver goes back to the I/O thread
  // to be fetched over ZeroMQ.
  struct Announced {
    uint64_t version = 0, size = 0, chunk_bytes = 0, hash = 0;
    uint32_t nchunks = 0;
    int64_t at_ms = 0;
  };
  struct GroupJob {
    bool join = false;
    uint64_t epoch = 0;
    uint32_t size = 0, rank = 0;  // join
    std::string gid;              // join
    Announced a;                  // send
  };
  std::unique_ptr<GroupTransport> transport;
  bool group_on IR_GUARDED_BY(mu) = false;  // a transport and its thread alive
  std::deque<GroupJob> jobs IR_GUARDED_BY(mu);
  std::vector<Announced> fallback IR_GUARDED_BY(mu);
  uint64_t group_version IR_GUARDED_BY(mu) = 0;  // the version the group thread is receiving
  CondVar job_cv;
  std::thread group_thread;

  Impl(zmq::context_t& ctx, const WeightsOptions& o, uint64_t sub_id,
       std::unique_ptr<GroupTransport> g)
      : opt(o),
        id(sub_id),
        socket(ctx, zmq::socket_type::dealer),
        transport(std::move(g)),
        group_on(transport != nullptr) {
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::immediate, 1);
    socket.set(zmq::sockopt::reconnect_ivl, 100);
    socket.set(zmq::sockopt::reconnect_ivl_max, 1000);
    socket.set(zmq::sockopt::rcvhwm, 100000);
    socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(opt.chunk_bytes + 4096));
    ApplyClientSecurity(socket, opt.security);
    try {
      socket.connect(opt.endpoint);
    } catch (const zmq::error_t& e) {
      Fail(ErrorCode::kInvalidArgument, "cannot connect to weight publisher ", opt.endpoint, ": ",
           e.what());
    }
    thread = std::thread([this] {
      NameThisThread("ir-weights-sub");
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
    job_cv.SignalAll();
    if (group_thread.joinable()) group_thread.join();  // within one peer_timeout_ms
    thread.join();
  }

  uint64_t Known() IR_EXCLUDES(mu) {  // newest version we have or are fetching
    MutexLock lock(mu);
    return std::max({dl.version, staged.version, st.taken_version, group_version});
  }
  bool GroupOn() IR_EXCLUDES(mu) {
    MutexLock lock(mu);
    return group_on;
  }
  uint64_t Delivered() IR_EXCLUDES(mu) {  // newest version staged or taken
    MutexLock lock(mu);
    return std::max(staged.version, st.taken_version);
  }

  void Loop() IR_EXCLUDES(mu) {
    try {
      int64_t next_poll = 0;
      while (true) {
        {
          MutexLock lock(mu);
          if (stop) return;
        }
        if (transport) {
          std::vector<Announced> redo;
          {
            MutexLock lock(mu);
            redo.swap(fallback);
          }
          for (const Announced& a : redo)
            if (a.version > Known()) StartDownload(a, 0);
          // The group may deliver a version this thread is also fetching: drop the download.
          if (dl.blob && dl.version <= Delivered()) dl = Download();
        }
        int64_t now = SteadyMs();
        if (now >= next_poll) {
          std::string p;
          ByteWriter w(&p);
          w.Put(Known());
          uint64_t epoch;
          bool can_join;
          {
            MutexLock lock(mu);
            epoch = st.group_epoch;
            can_join = group_on;
          }
          w.Put<uint8_t>(can_join ? 1 : 0);
          w.Put(epoch);
          TrySend(socket, Frame(MsgType::kWeightsPoll, id, p), false);
          next_poll = now + opt.poll_ms;
        }
        if (dl.blob && now - dl.progress_ms > opt.peer_timeout_ms) {
          IR_LOG_WARN(
              "comm: weights: download of version {} stalled for {} ms at {}/{} chunks; "
              "re-requesting the missing ones",
              dl.version, now - dl.progress_ms, dl.received, dl.nchunks);
          dl.to_request.clear();
          for (uint32_t i = 0; i < dl.nchunks; ++i)
            if (!dl.have[i]) dl.to_request.push_back(i);
          dl.inflight = 0;
          dl.progress_ms = now;
          MutexLock lock(mu);
          ++st.restarts;
        }
        RequestMore();
        zmq::pollitem_t items[2] = {{socket.handle(), 0, ZMQ_POLLIN, 0},
                                    {nullptr, wake.fd(), ZMQ_POLLIN, 0}};
        zmq::poll(items, 2, std::chrono::milliseconds(std::max<int64_t>(1, next_poll - now)));
        if (items[1].revents & ZMQ_POLLIN) wake.Drain();
        if (items[0].revents & ZMQ_POLLIN) ReadAll();
      }
    } catch (const std::exception& e) {
      IR_LOG_ERROR("comm: weight subscriber {} I/O thread failed: {}", id, e.what());
      MutexLock lock(mu);
      error = std::string("I/O thread failed: ") + e.what();
      cv.SignalAll();
    }
  }

  // Throws the I/O thread's failure, if it had one: nothing more will arrive.
  void ThrowIfFailed() const IR_REQUIRES(mu) {
    if (!error.empty())
      Fail(ErrorCode::kUnavailable, "weight subscriber ", id, " (publisher ", opt.endpoint,
           "): ", error);
  }

  void RequestMore() {
    while (dl.blob && dl.inflight < opt.chunks_in_flight && !dl.to_request.empty()) {
      std::string p;
      ByteWriter w(&p);
      w.Put(dl.version);
      w.Put(dl.to_request.front());
      if (!TrySend(socket, Frame(MsgType::kWeightsRequest, id, p), false)) return;
      dl.to_request.pop_front();
      ++dl.inflight;
    }
  }

  void ReadAll() IR_EXCLUDES(mu) {
    while (true) {
      zmq::message_t head;
      if (!socket.recv(head, zmq::recv_flags::dontwait)) return;
      TsanAcquire(head);
      zmq::message_t data;
      bool has_data = false;
      if (head.more()) {
        has_data = socket.recv(data, zmq::recv_flags::none).has_value();
        if (has_data) TsanAcquire(data);
        while (data.more()) {  // never sent by a publisher; drain
          zmq::message_t extra;
          if (!socket.recv(extra, zmq::recv_flags::none) || !extra.more()) break;
        }
      }
      last_heard_ms = SteadyMs();
      MessageView m;
      if (!DecodeChecked(head.data(), head.size(), 1 << 20, &wire, opt.endpoint, &m)) {
        MutexLock lock(mu);
        ++st.chunk_rejects;
        continue;
      }
      ByteReader r(m.payload, m.payload_size);
      if (m.type == MsgType::kWeightsAnnounce) {
        OnAnnounce(r);
      } else if (m.type == MsgType::kWeightsChunk && has_data) {
        OnChunk(r, data);
      } else if (m.type == MsgType::kWeightsGroup && GroupOn()) {
        OnGroup(r);
      } else if (m.type == MsgType::kWeightsGroupSend && GroupOn()) {
        OnGroupSend(r);
      } else if (m.type == MsgType::kWeightsStale) {
        if (dl.blob) {
          dl = Download();  // the announce of the new version follows
          MutexLock lock(mu);
          ++st.restarts;
        }
      } else {
        wire.Record(WireReject::kBadPayload, opt.endpoint);
        MutexLock lock(mu);
        ++st.chunk_rejects;
      }
    }
  }

  void OnAnnounce(ByteReader& r) IR_EXCLUDES(mu) {
    uint64_t version = 0, size = 0, chunk_bytes = 0, hash = 0;
    uint32_t nchunks = 0, pushed = 0;
    if (!r.Get(&version) || !r.Get(&size) || !r.Get(&chunk_bytes) || !r.Get(&nchunks) ||
        !r.Get(&hash) || !r.Get(&pushed) || !r.done() || pushed > nchunks)
      return wire.Record(WireReject::kBadPayload, opt.endpoint);
    {
      MutexLock lock(mu);
      st.announced_version = std::max(st.announced_version, version);
    }
    if (version == 0 || version <= Known()) return;
    Announced a{version, size, chunk_bytes, hash, nchunks, SteadyMs()};
    if (Consistent(a)) StartDownload(a, pushed);
  }

  bool Consistent(const Announced& a) {
    if (a.size <= static_cast<uint64_t>(opt.max_blob_bytes) && a.chunk_bytes != 0 &&
        a.nchunks == (a.size + a.chunk_bytes - 1) / a.chunk_bytes)
      return true;
    IR_LOG_ERROR(
        "comm: weights: version {} announced with {} bytes in {} chunks of {} is "
        "inconsistent or over max_blob_bytes {}; ignored",
        a.version, a.size, a.nchunks, a.chunk_bytes, opt.max_blob_bytes);
    return false;
  }

  // `pushed`: the first chunks, on their way behind the announce.
  void StartDownload(const Announced& a, uint32_t pushed) IR_EXCLUDES(mu) {
    dl = Download();
    dl.version = a.version;
    dl.size = a.size;
    dl.chunk_bytes = a.chunk_bytes;
    dl.nchunks = a.nchunks;
    dl.blob_hash = a.hash;
    dl.blob = recycler->Acquire(a.size);  // every byte is overwritten by a verified chunk
    dl.have.assign(a.nchunks, 0);
    dl.chunk_hash.assign(a.nchunks, 0);
    // The pushed chunks are on their way behind this announce: they count against the window.
    for (uint32_t i = pushed; i < a.nchunks; ++i) dl.to_request.push_back(i);
    dl.inflight = static_cast<int>(pushed);
    dl.announce_ms = dl.progress_ms = SteadyMs();
    RequestMore();
  }

  void OnGroup(ByteReader& r) IR_EXCLUDES(mu) {
    GroupJob job;
    job.join = true;
    if (!r.Get(&job.epoch) || !r.Get(&job.size) || !r.Get(&job.rank) ||
        !r.GetString(&job.gid, 4096) || !r.done() || job.epoch == 0 || job.size < 2 ||
        job.rank < 1 || job.rank >= job.size || job.gid.empty())
      return wire.Record(WireReject::kBadPayload, opt.endpoint);
    MutexLock lock(mu);
    // A new group replaces whatever of an older one is still queued (a group thread that fell
    // behind): those broadcasts fail at the publisher, which then announces their versions.
    jobs.clear();
    jobs.push_back(std::move(job));
    job_cv.SignalAll();
  }

  void OnGroupSend(ByteReader& r) IR_EXCLUDES(mu) {
    GroupJob job;
    Announced& a = job.a;
    if (!r.Get(&job.epoch) || !r.Get(&a.version) || !r.Get(&a.size) || !r.Get(&a.chunk_bytes) ||
        !r.Get(&a.nchunks) || !r.Get(&a.hash) || !r.done() || a.version == 0)
      return wire.Record(WireReject::kBadPayload, opt.endpoint);
    a.at_ms = SteadyMs();
    // Taken part in even when not needed: a broadcast is collective. One that is inconsistent
    // or too large is left to fail (the publisher then announces the version, which is ignored).
    if (!Consistent(a)) return;
    {
      MutexLock lock(mu);
      st.announced_version = std::max(st.announced_version, a.version);
      jobs.push_back(std::move(job));
    }
    job_cv.SignalAll();
  }

  // --- the group thread -----------------------------------------------------------------------

  // Stops offering to join; whatever was queued is fetched over ZeroMQ.
  void GroupOff() IR_EXCLUDES(mu) {
    MutexLock lock(mu);
    group_on = false;
    st.group_epoch = 0;
    group_version = 0;
    for (const GroupJob& j : jobs)
      if (!j.join) fallback.push_back(j.a);
    jobs.clear();
    wake.Signal();
  }

  void GroupLoop() IR_EXCLUDES(mu) {
    while (true) {
      GroupJob job;
      {
        MutexLock lock(mu);
        // Woken by the I/O thread and by the destructor; the period only bounds a missed signal.
        while (!stop && jobs.empty()) job_cv.WaitFor(mu, std::chrono::seconds(1));
        if (stop) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      if (job.join) {
        JoinGroup(job);
      } else {
        ReceiveByGroup(job);
      }
    }
  }

  void JoinGroup(const GroupJob& job) IR_EXCLUDES(mu) {
    {
      MutexLock lock(mu);
      st.group_epoch = 0;
    }
    try {
      transport->Join(job.gid, static_cast<int>(job.size), static_cast<int>(job.rank),
                      opt.peer_timeout_ms);
      MutexLock lock(mu);
      st.group_epoch = job.epoch;
    } catch (const Error& e) {
      {
        MutexLock lock(mu);
        ++st.group_failures;
      }
      if (e.code() == ErrorCode::kDeadlineExceeded) {  // someone else did not come: try again
        IR_LOG_WARN(
            "comm: weights: subscriber {} could not join broadcast group {}: {}; versions come "
            "over "
            "ZeroMQ until the next group",
            id, job.epoch, e.what());
        return;
      }
      // Refused here (NCCL refuses two ranks on one GPU, for one): stop offering, so that the
      // others' groups form without this subscriber.
      IR_LOG_ERROR(
          "comm: weights: subscriber {} cannot join a broadcast group: {}; it takes every version "
          "over ZeroMQ from now on",
          id, e.what());
      GroupOff();
    }
  }

  void ReceiveByGroup(const GroupJob& job) IR_EXCLUDES(mu) {
    const Announced& a = job.a;
    auto fall_back = [&](const std::string& why) {
      IR_LOG_WARN(
          "comm: weights: subscriber {}: version {} by group broadcast failed: {}; fetching it "
          "over "
          "ZeroMQ",
          id, a.version, why);
      {
        MutexLock lock(mu);
        ++st.group_failures;
        group_version = 0;
        fallback.push_back(a);
      }
      wake.Signal();
    };
    {
      MutexLock lock(mu);
      if (st.group_epoch == 0 || job.epoch != st.group_epoch) {
        group_version = 0;
        fallback.push_back(a);  // not in that group: its broadcast fails at the publisher too
        wake.Signal();
        return;
      }
      group_version = a.version;
    }
    std::shared_ptr<std::string> blob = recycler->Acquire(a.size);  // overwritten by the broadcast
    try {
      transport->Broadcast(blob->data(), a.size, opt.peer_timeout_ms);
    } catch (const std::exception& e) {
      {
        MutexLock lock(mu);
        st.group_epoch = 0;  // the transport left the group
      }
      return fall_back(e.what());
    }
    std::vector<uint64_t> hashes;
    hashes.reserve(a.nchunks);
    for (size_t off = 0; off < a.size; off += a.chunk_bytes)
      hashes.push_back(
          Checksum64(blob->data() + off, std::min<size_t>(a.chunk_bytes, a.size - off)));
    WeightSet ws;
    std::string why;
    if (hashes.size() != a.nchunks || ChunkListHash(hashes) != a.hash) {
      why = "the received blob does not match the announced checksum";
    } else if (ParseWeights(blob, &ws, &why) && ws.version != a.version) {
      why = "blob version differs from the announced one";
    }
    if (!why.empty()) {
      {
        MutexLock lock(mu);
        ++st.chunk_rejects;
      }
      return fall_back(why);
    }
    Stage(std::move(ws), (SteadyMs() - a.at_ms) / 1e3, /*by_group=*/true);
    MutexLock lock(mu);
    group_version = 0;
  }

  // Makes `ws` the version to take unless one as new is staged or taken already (the group and
  // a ZeroMQ download may both deliver a version).
  void Stage(WeightSet ws, double seconds, bool by_group) IR_EXCLUDES(mu) {
    MutexLock lock(mu);
    if (ws.version <= std::max(staged.version, st.taken_version)) return;
    st.bytes_received += ws.total_bytes();
    staged = std::move(ws);
    st.staged_version = staged.version;
    ++st.versions_received;
    if (by_group) ++st.versions_by_group;
    st.last_delivery_seconds = seconds;
    cv.SignalAll();
  }

  void OnChunk(ByteReader& r, const zmq::message_t& data) IR_EXCLUDES(mu) {
    uint64_t version = 0, off = 0, n = 0, hash = 0;
    uint32_t chunk = 0;
    if (!r.Get(&version) || !r.Get(&chunk) || !r.Get(&off) || !r.Get(&n) || !r.Get(&hash) ||
        !r.done())
      return wire.Record(WireReject::kBadPayload, opt.endpoint);
    if (!dl.blob || version != dl.version) return;  // a chunk of an abandoned download
    // (A push can cross an announce answering a poll: never below zero.)
    if (dl.inflight > 0) --dl.inflight;
    bool ok = chunk < dl.nchunks && off == static_cast<uint64_t>(chunk) * dl.chunk_bytes &&
              n == std::min<uint64_t>(dl.chunk_bytes, dl.size - off) && data.size() == n &&
              Checksum64(data.data(), n) == hash;
    if (!ok) {
      wire.Record(WireReject::kBadChecksum, opt.endpoint);
      {
        MutexLock lock(mu);
        ++st.chunk_rejects;
      }
      if (chunk < dl.nchunks && !dl.have[chunk]) dl.to_request.push_back(chunk);
      return;
    }
    if (dl.have[chunk]) return;
    std::memcpy(dl.blob->data() + off, data.data(), n);
    dl.have[chunk] = 1;
    dl.chunk_hash[chunk] = hash;
    ++dl.received;
    dl.progress_ms = SteadyMs();
    if (dl.received < dl.nchunks) return RequestMore();
    Complete();
  }

  void Complete() IR_EXCLUDES(mu) {
    std::shared_ptr<const std::string> blob = std::move(dl.blob);
    Download done = std::move(dl);
    dl = Download();
    WeightSet ws;
    std::string why;
    if (ChunkListHash(done.chunk_hash) != done.blob_hash) {
      why = "the chunks' checksums do not match the announced blob checksum";
    } else if (ParseWeights(blob, &ws, &why) && ws.version != done.version) {
      why = "blob version differs from the announced one";
    }
    if (!why.empty()) {
      IR_LOG_ERROR("comm: weights: version {} rejected after download: {}", done.version, why);
      MutexLock lock(mu);
      ++st.chunk_rejects;
      return;
    }
    Stage(std::move(ws), (SteadyMs() - done.announce_ms) / 1e3, /*by_group=*/false);
  }
};

WeightSubscriber::WeightSubscriber(zmq::context_t& ctx, const WeightsOptions& options,
                                   uint64_t subscriber_id, std::unique_ptr<GroupTransport> group)
    : impl_(std::make_unique<Impl>(ctx, options, subscriber_id, std::move(group))) {}
WeightSubscriber::~WeightSubscriber() = default;

bool WeightSubscriber::HasNewer() const {
  MutexLock lock(impl_->mu);
  if (impl_->staged.version > impl_->st.taken_version) return true;
  impl_->ThrowIfFailed();
  return false;
}

bool WeightSubscriber::TakeLatest(WeightSet* out) {
  MutexLock lock(impl_->mu);
  if (impl_->staged.version <= impl_->st.taken_version) {
    impl_->ThrowIfFailed();
    return false;
  }
  impl_->st.taken_version = impl_->staged.version;
  *out = std::move(impl_->staged);
  impl_->staged = WeightSet();
  return true;
}

bool WeightSubscriber::WaitFor(uint64_t min_version, WeightSet* out,
                               std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  const auto deadline = Clock::now() + timeout;
  MutexLock lock(s.mu);
  auto ready = [&]() IR_REQUIRES(s.mu) {
    return s.staged.version >= min_version && s.staged.version > s.st.taken_version;
  };
  while (!ready()) {
    s.ThrowIfFailed();
    if (!s.cv.WaitUntil(s.mu, deadline) && !ready()) return false;
  }
  s.st.taken_version = s.staged.version;
  *out = std::move(s.staged);
  s.staged = WeightSet();
  return true;
}

SubscriberStats WeightSubscriber::stats() const {
  MutexLock lock(impl_->mu);
  SubscriberStats st = impl_->st;
  st.publisher_alive = SteadyMs() - impl_->last_heard_ms.load() <= impl_->opt.peer_timeout_ms;
  return st;
}

}  // namespace iranker::comm
