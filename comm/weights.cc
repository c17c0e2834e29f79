#include "comm/weights.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/error.h"
#include "base/log.h"
#include "comm/bytes.h"
#include "comm/security.h"
#include "comm/wire.h"
#include "comm/zmq_util.h"

namespace iranker::comm {

namespace {

constexpr uint32_t kBlobMagic = 0x54575249;  // "IRWT"
constexpr uint32_t kBlobFormat = 1;
constexpr size_t kAlign = 64;

size_t AlignUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

bool ShapeBytes(DType d, const std::vector<int64_t>& shape, size_t* bytes) {
  size_t n = DTypeSize(d);
  if (n == 0) return false;
  for (int64_t s : shape) {
    if (s < 0) return false;
    if (s != 0 && n > SIZE_MAX / static_cast<size_t>(s)) return false;
    n *= static_cast<size_t>(s);
  }
  *bytes = n;
  return true;
}

// The blob's checksum: XXH3 of its chunks' XXH3 values in order. A subscriber verifies every
// chunk's data against its checksum as it arrives, so this covers every byte of the blob in its
// place without a second pass over it on either side.
uint64_t ChunkListHash(const std::vector<uint64_t>& chunk_hash) {
  return Checksum64(chunk_hash.data(), chunk_hash.size() * sizeof(uint64_t));
}

zmq::message_t Frame(MsgType t, uint64_t sender, const std::string& payload) {
  return SharedFrameMessage(std::make_shared<const std::string>(EncodeMessage(t, sender, payload)));
}

bool SendNoWait(zmq::socket_t& s, zmq::message_t&& m, bool more) {
  try {
    auto flags =
        zmq::send_flags::dontwait | (more ? zmq::send_flags::sndmore : zmq::send_flags::none);
    return s.send(std::move(m), flags).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH || e.num() == EAGAIN) return false;
    throw;
  }
}

// Runs the group path's thread of a publisher or subscriber Impl: its GroupLoop, and if that
// throws, its GroupOff (versions keep coming over ZeroMQ).
template <class Impl>
std::thread StartGroupThread(Impl* impl) {
  return std::thread([impl] {
    NameThisThread("ir-weights-grp");
    try {
      impl->GroupLoop();
    } catch (const std::exception& e) {
      IR_LOG_ERROR("comm: weights: group thread failed, the group path is off: {}", e.what());
      impl->GroupOff();
    }
  });
}

}  // namespace

size_t DTypeSize(DType d) {
  switch (d) {
    case DType::kFloat32:
    case DType::kInt32:
      return 4;
    case DType::kFloat16:
    case DType::kBFloat16:
      return 2;
    case DType::kFloat64:
    case DType::kInt64:
      return 8;
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kBool:
      return 1;
  }
  return 0;
}

const char* DTypeName(DType d) {
  switch (d) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kFloat64:
      return "float64";
    case DType::kInt64:
      return "int64";
    case DType::kInt32:
      return "int32";
    case DType::kInt8:
      return "int8";
    case DType::kUInt8:
      return "uint8";
    case DType::kBool:
      return "bool";
  }
  return "?";
}

const WeightSet::Entry* WeightSet::Find(const std::string& name) const {
  for (const auto& e : tensors)
    if (e.name == name) return &e;
  return nullptr;
}

namespace {

// Keeps one released blob buffer for the next blob of the same size. A new policy version is
// almost always the size of the last, and a fresh buffer costs a page fault per 4 KiB page (the
// kernel zeroes each one): for a 1 GB model that is ~250k faults, more time than moving the
// bytes. At most one spare is kept, and only once a buffer was released, so the number of live
// buffers never exceeds what it was without recycling. Buffers come back from any thread (the
// last reference may be a ZeroMQ message or an actor's WeightSet).
class BlobRecycler : public std::enable_shared_from_this<BlobRecycler> {
 public:
  // A buffer of exactly `size` bytes whose contents the caller overwrites entirely.
  std::shared_ptr<std::string> Acquire(size_t size) {
    std::unique_ptr<std::string> buf;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (spare_ && spare_->size() == size) buf = std::move(spare_);
      spare_.reset();  // a spare of another size is not kept
    }
    if (!buf) buf = std::make_unique<std::string>(size, '\0');
    std::weak_ptr<BlobRecycler> self = weak_from_this();
    return std::shared_ptr<std::string>(buf.release(), [self](std::string* p) {
      std::unique_ptr<std::string> owned(p);
      if (auto r = self.lock()) {
        std::lock_guard<std::mutex> lock(r->mu_);
        std::swap(r->spare_, owned);  // an older spare is freed with `owned`
      }
    });
  }

 private:
  std::mutex mu_;
  std::unique_ptr<std::string> spare_;
};

// Where SerializeWeights puts what: the manifest, each tensor's offset, the total size.
struct BlobLayout {
  std::string manifest;
  std::vector<size_t> offsets;
  size_t size = 0;
};

BlobLayout LayOut(uint64_t version, const std::vector<TensorView>& tensors) {
  BlobLayout layout;
  std::string& manifest = layout.manifest;
  ByteWriter w(&manifest);
  w.Put(kBlobMagic);
  w.Put(kBlobFormat);
  w.Put(version);
  w.Put(static_cast<uint32_t>(tensors.size()));
  size_t manifest_size = manifest.size();
  for (const auto& t : tensors)
    manifest_size += 4 + t.name.size() + 1 + 4 + 8 * t.shape.size() + 8 + 8;
  size_t offset = AlignUp(manifest_size);
  for (const auto& t : tensors) {
    size_t expect = 0;
    if (!ShapeBytes(t.dtype, t.shape, &expect) || expect != t.nbytes)
      Fail(ErrorCode::kInvalidArgument, "weight '", t.name, "': ", t.nbytes,
           " bytes do not match its shape and dtype ", DTypeName(t.dtype));
    layout.offsets.push_back(offset);
    w.PutString(t.name);
    w.Put(static_cast<uint8_t>(t.dtype));
    w.Put(static_cast<uint32_t>(t.shape.size()));
    for (int64_t s : t.shape) w.Put(s);
    w.Put(static_cast<uint64_t>(offset));
    w.Put(static_cast<uint64_t>(t.nbytes));
    offset = AlignUp(offset + t.nbytes);
  }
  IR_CHECK_EQ(manifest.size(), manifest_size);
  layout.size = offset;
  return layout;
}

// Writes the blob into `dst` (layout.size bytes), every byte: padding is zeroed, so a recycled
// buffer gives the same bytes as a fresh one.
void WriteBlob(const BlobLayout& layout, const std::vector<TensorView>& tensors, char* dst) {
  std::memcpy(dst, layout.manifest.data(), layout.manifest.size());
  size_t end = layout.manifest.size();
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::memset(dst + end, 0, layout.offsets[i] - end);
    if (tensors[i].nbytes) std::memcpy(dst + layout.offsets[i], tensors[i].data, tensors[i].nbytes);
    end = layout.offsets[i] + tensors[i].nbytes;
  }
  std::memset(dst + end, 0, layout.size - end);
}

}  // namespace

std::string SerializeWeights(uint64_t version, const std::vector<TensorView>& tensors) {
  BlobLayout layout = LayOut(version, tensors);
  std::string blob(layout.size, '\0');
  WriteBlob(layout, tensors, blob.data());
  return blob;
}

bool ParseWeights(std::shared_ptr<const std::string> blob, WeightSet* out, std::string* why) {
  auto bad = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  if (!blob) return bad("no blob");
  ByteReader r(blob->data(), blob->size());
  uint32_t magic = 0, format = 0, count = 0;
  WeightSet ws;
  if (!r.Get(&magic) || magic != kBlobMagic) return bad("not a weight blob (magic)");
  if (!r.Get(&format) || format != kBlobFormat) return bad("unknown weight blob format");
  if (!r.Get(&ws.version) || !r.GetCount(&count, 4 + 1 + 4 + 16)) return bad("truncated manifest");
  ws.tensors.resize(count);
  for (auto& e : ws.tensors) {
    uint8_t dtype = 0;
    uint32_t ndim = 0;
    uint64_t off = 0, n = 0;
    if (!r.GetString(&e.name) || !r.Get(&dtype) || !r.GetCount(&ndim, 8))
      return bad("truncated manifest entry");
    e.dtype = static_cast<DType>(dtype);
    e.shape.resize(ndim);
    for (auto& s : e.shape)
      if (!r.Get(&s)) return bad("truncated shape");
    if (!r.Get(&off) || !r.Get(&n)) return bad("truncated manifest entry");
    size_t expect = 0;
    if (!ShapeBytes(e.dtype, e.shape, &expect) || expect != n)
      return bad("tensor '" + e.name + "': size does not match shape/dtype");
    if (off > blob->size() || n > blob->size() - off)
      return bad("tensor '" + e.name + "' lies outside the blob");
    e.offset = off;
    e.nbytes = n;
  }
  ws.blob = std::move(blob);
  *out = std::move(ws);
  return true;
}

// ----------------------------------------------------------------------------------------------

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
  mutable std::mutex mu;
  std::shared_ptr<const Version> current;      // guarded by mu
  bool announce_pending = false;               // guarded by mu
  bool stop = false;                           // guarded by mu
  PublisherStats st;                           // guarded by mu
  std::map<std::string, int64_t> subscribers;  // I/O thread: route -> last seen
  std::shared_ptr<BlobRecycler> recycler = std::make_shared<BlobRecycler>();
  std::thread thread;

  // The group path (comm/weight_group.h). Live capable subscribers are the group thread's: the
  // I/O thread announces a new version to them only when the group thread asks it to.
  struct Capable {
    int64_t seen_ms = 0;
    uint64_t epoch = 0;  // the group it reported being in
  };
  std::unique_ptr<GroupTransport> transport;
  bool group_on = false;                      // guarded by mu: a transport and its thread alive
  std::map<std::string, Capable> capable;     // guarded by mu: route -> its last POLL
  std::set<std::string> members;              // guarded by mu: routes of the current group
  std::shared_ptr<const Version> group_done;  // guarded by mu: newest version the group dealt with
  std::vector<std::pair<std::string, zmq::message_t>> outbox;  // guarded by mu: for the I/O thread
  std::condition_variable group_cv;
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
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    wake.Signal();
    group_cv.notify_all();
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
  bool SendChunk(const std::string& route, const Version& v, uint32_t chunk) {
    size_t off = static_cast<size_t>(chunk) * v.chunk_bytes;
    size_t n = std::min(v.chunk_bytes, v.blob->size() - off);
    std::string hdr;
    ByteWriter w(&hdr);
    w.Put(v.version);
    w.Put(chunk);
    w.Put<uint64_t>(off);
    w.Put<uint64_t>(n);
    w.Put(v.chunk_hash[chunk]);
    if (!SendNoWait(socket, zmq::message_t(route.data(), route.size()), true)) return false;
    socket.send(Frame(MsgType::kWeightsChunk, id, hdr), zmq::send_flags::sndmore);
    socket.send(SharedSliceMessage(v.blob, off, n), zmq::send_flags::none);
    std::lock_guard<std::mutex> lock(mu);
    ++st.chunks_sent;
    st.bytes_sent += n;
    return true;
  }

  void Loop() {
    try {
      while (true) {
        std::shared_ptr<const Version> v;
        bool announce;
        std::vector<std::pair<std::string, zmq::message_t>> out;
        std::set<std::string> grouped;  // live capable routes: the group thread serves them
        int64_t now = SteadyMs();
        {
          std::lock_guard<std::mutex> lock(mu);
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
          if (SendNoWait(socket, zmq::message_t(route.data(), route.size()), true))
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
            if (!SendNoWait(socket, zmq::message_t(route.data(), route.size()), true)) continue;
            socket.send(Frame(MsgType::kWeightsAnnounce, id, AnnouncePayload(v.get(), push)),
                        zmq::send_flags::none);
            // A chunk that cannot be queued is re-requested once the download stalls.
            uint32_t pushed = 0;
            while (pushed < push && SendChunk(route, *v, pushed)) ++pushed;
            std::lock_guard<std::mutex> lock(mu);
            st.chunks_pushed += pushed;
          }
          std::lock_guard<std::mutex> lock(mu);
          st.announces += subscribers.size();
        }
        {
          std::lock_guard<std::mutex> lock(mu);
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
    }
  }

  void ReadAll(const std::shared_ptr<const Version>& v) {
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
        std::lock_guard<std::mutex> lock(mu);
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
          std::lock_guard<std::mutex> lock(mu);
          ++st.malformed;
          continue;
        }
        // A capable subscriber that has a version is told only of the versions the group thread
        // has dealt with: it receives a newer one by group broadcast, or is told to fetch it
        // here when that fails or when it was not part of the group. One with nothing yet (a
        // fresh start) gets the newest at once.
        std::shared_ptr<const Version> answer = v;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (group_on && can_join) {
            capable[r] = Capable{SteadyMs(), epoch};
            if (members.count(r) || known > 0) answer = group_done;
          } else if (group_on) {
            capable.erase(r);  // it stopped offering (its transport refused): not in the next group
          }
        }
        if (SendNoWait(socket, zmq::message_t(r.data(), r.size()), true))
          socket.send(Frame(MsgType::kWeightsAnnounce, id, AnnouncePayload(answer.get(), 0)),
                      zmq::send_flags::none);
        continue;
      }
      uint64_t version = 0;
      uint32_t chunk = 0;
      if (m.type != MsgType::kWeightsRequest || !rd.Get(&version) || !rd.Get(&chunk) ||
          !rd.done()) {
        wire.Record(WireReject::kBadPayload, "weights subscriber");
        std::lock_guard<std::mutex> lock(mu);
        ++st.malformed;
        continue;
      }
      if (!v || version != v->version || chunk >= v->chunk_hash.size()) {
        std::string p;
        ByteWriter w(&p);
        w.Put<uint64_t>(v ? v->version : 0);
        if (SendNoWait(socket, zmq::message_t(r.data(), r.size()), true))
          socket.send(Frame(MsgType::kWeightsStale, id, p), zmq::send_flags::none);
        std::lock_guard<std::mutex> lock(mu);
        ++st.stale_replies;
        continue;
      }
      SendChunk(r, *v, chunk);
    }
  }

  // --- the group thread -----------------------------------------------------------------------

  void GroupOff() {  // every subscriber is served over ZeroMQ from now on
    std::lock_guard<std::mutex> lock(mu);
    group_on = false;
    capable.clear();
    members.clear();
    st.group_members = 0;
    announce_pending = true;  // those that were left to the group thread hear of the newest
    wake.Signal();
  }

  // True once the publisher is being destroyed; by default throws then, so that no join or
  // broadcast starts that the departing I/O thread could no longer prepare.
  bool Stopping(bool throws = true) {
    std::lock_guard<std::mutex> lock(mu);
    if (stop && throws) Fail(ErrorCode::kUnavailable, "weight publisher closing");
    return stop;
  }

  void Queue(const std::string& route, MsgType type, const std::string& payload) {  // mu held
    outbox.emplace_back(route, Frame(type, id, payload));
  }

  // After this many versions in a row that the group failed to deliver, the group path is turned
  // off: a setup where it cannot work (say, actors sharing a GPU, which NCCL refuses) would
  // otherwise cost a failed join on every version.
  static constexpr int kFailuresBeforeOff = 3;

  void GroupLoop() {
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
        std::unique_lock<std::mutex> lock(mu);
        group_cv.wait(lock, [&] { return stop || (current && current->version > done); });
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
          std::lock_guard<std::mutex> lock(mu);
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
        std::lock_guard<std::mutex> lock(mu);
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
  uint64_t Form(const std::vector<std::string>& routes) {
    transport->Leave();
    const std::string gid = transport->NewGroupId();
    const uint32_t size = static_cast<uint32_t>(routes.size() + 1);
    uint64_t epoch;
    {
      std::lock_guard<std::mutex> lock(mu);
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
    std::lock_guard<std::mutex> lock(mu);
    st.group_members = static_cast<int>(routes.size());
    return epoch;
  }

  void SendByGroup(const Version& v, const std::vector<std::string>& routes, uint64_t epoch) {
    {
      std::string p;
      ByteWriter w(&p);
      w.Put(epoch);
      w.Put(v.version);
      w.Put<uint64_t>(v.blob->size());
      w.Put<uint64_t>(v.chunk_bytes);
      w.Put<uint32_t>(static_cast<uint32_t>(v.chunk_hash.size()));
      w.Put(v.blob_hash);
      std::lock_guard<std::mutex> lock(mu);
      if (stop) Fail(ErrorCode::kUnavailable, "weight publisher closing");
      for (const auto& route : routes) Queue(route, MsgType::kWeightsGroupSend, p);
    }
    wake.Signal();
    // The root only reads the buffer (the blob was created writable: the cast is well-defined).
    transport->Broadcast(const_cast<char*>(v.blob->data()), v.blob->size(), opt.peer_timeout_ms);
    std::lock_guard<std::mutex> lock(mu);
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
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.current && version <= s.current->version)
      Fail(ErrorCode::kInvalidArgument, "weight version ", version, " does not increase (last ",
           s.current->version, ")");
  }
  auto v = std::make_shared<Impl::Version>();
  v->version = version;
  BlobLayout layout = LayOut(version, tensors);
  std::shared_ptr<std::string> blob = s.recycler->Acquire(layout.size);
  WriteBlob(layout, tensors, blob->data());
  v->blob = std::move(blob);
  v->chunk_bytes = static_cast<size_t>(s.opt.chunk_bytes);
  const std::string& b = *v->blob;
  for (size_t off = 0; off < b.size(); off += v->chunk_bytes)
    v->chunk_hash.push_back(Checksum64(b.data() + off, std::min(v->chunk_bytes, b.size() - off)));
  v->blob_hash = ChunkListHash(v->chunk_hash);
  size_t size = b.size();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.current = std::move(v);
    s.announce_pending = true;
    s.st.version = version;
  }
  s.wake.Signal();
  s.group_cv.notify_all();
  return size;
}

PublisherStats WeightPublisher::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->st;
}
const std::string& WeightPublisher::endpoint() const { return impl_->endpoint; }

// ----------------------------------------------------------------------------------------------

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
  mutable std::mutex mu;
  std::condition_variable cv;
  WeightSet staged;    // guarded by mu (version 0 = none)
  SubscriberStats st;  // guarded by mu
  bool stop = false;   // guarded by mu
  Download dl;         // I/O thread only
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
  bool group_on = false;            // guarded by mu: a transport and its thread alive
  std::deque<GroupJob> jobs;        // guarded by mu
  std::vector<Announced> fallback;  // guarded by mu
  uint64_t group_version = 0;       // guarded by mu: the version the group thread is receiving
  std::condition_variable job_cv;
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
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    wake.Signal();
    job_cv.notify_all();
    if (group_thread.joinable()) group_thread.join();  // within one peer_timeout_ms
    thread.join();
  }

  uint64_t Known() {  // newest version we have or are fetching
    std::lock_guard<std::mutex> lock(mu);
    return std::max({dl.version, staged.version, st.taken_version, group_version});
  }
  bool GroupOn() {
    std::lock_guard<std::mutex> lock(mu);
    return group_on;
  }
  uint64_t Delivered() {  // newest version staged or taken
    std::lock_guard<std::mutex> lock(mu);
    return std::max(staged.version, st.taken_version);
  }

  void Loop() {
    try {
      int64_t next_poll = 0;
      while (true) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (stop) return;
        }
        if (transport) {
          std::vector<Announced> redo;
          {
            std::lock_guard<std::mutex> lock(mu);
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
            std::lock_guard<std::mutex> lock(mu);
            epoch = st.group_epoch;
            can_join = group_on;
          }
          w.Put<uint8_t>(can_join ? 1 : 0);
          w.Put(epoch);
          SendNoWait(socket, Frame(MsgType::kWeightsPoll, id, p), false);
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
          std::lock_guard<std::mutex> lock(mu);
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
    }
  }

  void RequestMore() {
    while (dl.blob && dl.inflight < opt.chunks_in_flight && !dl.to_request.empty()) {
      std::string p;
      ByteWriter w(&p);
      w.Put(dl.version);
      w.Put(dl.to_request.front());
      if (!SendNoWait(socket, Frame(MsgType::kWeightsRequest, id, p), false)) return;
      dl.to_request.pop_front();
      ++dl.inflight;
    }
  }

  void ReadAll() {
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
        std::lock_guard<std::mutex> lock(mu);
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
          std::lock_guard<std::mutex> lock(mu);
          ++st.restarts;
        }
      } else {
        wire.Record(WireReject::kBadPayload, opt.endpoint);
        std::lock_guard<std::mutex> lock(mu);
        ++st.chunk_rejects;
      }
    }
  }

  void OnAnnounce(ByteReader& r) {
    uint64_t version = 0, size = 0, chunk_bytes = 0, hash = 0;
    uint32_t nchunks = 0, pushed = 0;
    if (!r.Get(&version) || !r.Get(&size) || !r.Get(&chunk_bytes) || !r.Get(&nchunks) ||
        !r.Get(&hash) || !r.Get(&pushed) || !r.done() || pushed > nchunks)
      return wire.Record(WireReject::kBadPayload, opt.endpoint);
    {
      std::lock_guard<std::mutex> lock(mu);
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
  void StartDownload(const Announced& a, uint32_t pushed) {
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

  void OnGroup(ByteReader& r) {
    GroupJob job;
    job.join = true;
    if (!r.Get(&job.epoch) || !r.Get(&job.size) || !r.Get(&job.rank) ||
        !r.GetString(&job.gid, 4096) || !r.done() || job.epoch == 0 || job.size < 2 ||
        job.rank < 1 || job.rank >= job.size || job.gid.empty())
      return wire.Record(WireReject::kBadPayload, opt.endpoint);
    std::lock_guard<std::mutex> lock(mu);
    // A new group replaces whatever of an older one is still queued (a group thread that fell
    // behind): those broadcasts fail at the publisher, which then announces their versions.
    jobs.clear();
    jobs.push_back(std::move(job));
    job_cv.notify_all();
  }

  void OnGroupSend(ByteReader& r) {
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
      std::lock_guard<std::mutex> lock(mu);
      st.announced_version = std::max(st.announced_version, a.version);
      jobs.push_back(std::move(job));
    }
    job_cv.notify_all();
  }

  // --- the group thread -----------------------------------------------------------------------

  void GroupOff() {  // stops offering to join; whatever was queued is fetched over ZeroMQ
    std::lock_guard<std::mutex> lock(mu);
    group_on = false;
    st.group_epoch = 0;
    group_version = 0;
    for (const GroupJob& j : jobs)
      if (!j.join) fallback.push_back(j.a);
    jobs.clear();
    wake.Signal();
  }

  void GroupLoop() {
    while (true) {
      GroupJob job;
      {
        std::unique_lock<std::mutex> lock(mu);
        job_cv.wait(lock, [&] { return stop || !jobs.empty(); });
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

  void JoinGroup(const GroupJob& job) {
    {
      std::lock_guard<std::mutex> lock(mu);
      st.group_epoch = 0;
    }
    try {
      transport->Join(job.gid, static_cast<int>(job.size), static_cast<int>(job.rank),
                      opt.peer_timeout_ms);
      std::lock_guard<std::mutex> lock(mu);
      st.group_epoch = job.epoch;
    } catch (const Error& e) {
      {
        std::lock_guard<std::mutex> lock(mu);
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

  void ReceiveByGroup(const GroupJob& job) {
    const Announced& a = job.a;
    auto fall_back = [&](const std::string& why) {
      IR_LOG_WARN(
          "comm: weights: subscriber {}: version {} by group broadcast failed: {}; fetching it "
          "over "
          "ZeroMQ",
          id, a.version, why);
      {
        std::lock_guard<std::mutex> lock(mu);
        ++st.group_failures;
        group_version = 0;
        fallback.push_back(a);
      }
      wake.Signal();
    };
    {
      std::lock_guard<std::mutex> lock(mu);
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
        std::lock_guard<std::mutex> lock(mu);
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
        std::lock_guard<std::mutex> lock(mu);
        ++st.chunk_rejects;
      }
      return fall_back(why);
    }
    Stage(std::move(ws), (SteadyMs() - a.at_ms) / 1e3, /*by_group=*/true);
    std::lock_guard<std::mutex> lock(mu);
    group_version = 0;
  }

  // Makes `ws` the version to take unless one as new is staged or taken already (the group and
  // a ZeroMQ download may both deliver a version).
  void Stage(WeightSet ws, double seconds, bool by_group) {
    std::lock_guard<std::mutex> lock(mu);
    if (ws.version <= std::max(staged.version, st.taken_version)) return;
    st.bytes_received += ws.total_bytes();
    staged = std::move(ws);
    st.staged_version = staged.version;
    ++st.versions_received;
    if (by_group) ++st.versions_by_group;
    st.last_delivery_seconds = seconds;
    cv.notify_all();
  }

  void OnChunk(ByteReader& r, const zmq::message_t& data) {
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
        std::lock_guard<std::mutex> lock(mu);
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

  void Complete() {
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
      std::lock_guard<std::mutex> lock(mu);
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
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->staged.version > impl_->st.taken_version;
}

bool WeightSubscriber::TakeLatest(WeightSet* out) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->staged.version <= impl_->st.taken_version) return false;
  impl_->st.taken_version = impl_->staged.version;
  *out = std::move(impl_->staged);
  impl_->staged = WeightSet();
  return true;
}

bool WeightSubscriber::WaitFor(uint64_t min_version, WeightSet* out,
                               std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  if (!impl_->cv.wait_for(lock, timeout, [&] {
        return impl_->staged.version >= min_version &&
               impl_->staged.version > impl_->st.taken_version;
      }))
    return false;
  impl_->st.taken_version = impl_->staged.version;
  *out = std::move(impl_->staged);
  impl_->staged = WeightSet();
  return true;
}

SubscriberStats WeightSubscriber::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SubscriberStats st = impl_->st;
  st.publisher_alive = SteadyMs() - impl_->last_heard_ms.load() <= impl_->opt.peer_timeout_ms;
  return st;
}

}  // namespace iranker::comm
