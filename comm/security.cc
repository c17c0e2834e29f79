#include "comm/security.h"

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/log.h"
#include "base/mutex.h"
#include "base/thread_name.h"
#include "comm/zmq_util.h"

namespace iranker::comm {

namespace {

bool ValidZ85Key(const std::string& k) {
  if (k.size() != 40) return false;
  uint8_t bin[32];
  return zmq_z85_decode(bin, k.c_str()) != nullptr;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string Host(const std::string& endpoint) {
  auto p = endpoint.find("://");
  std::string rest = p == std::string::npos ? endpoint : endpoint.substr(p + 3);
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    return close == std::string::npos ? rest : rest.substr(1, close - 1);
  }
  auto colon = rest.rfind(':');
  return colon == std::string::npos ? rest : rest.substr(0, colon);
}

}  // namespace

bool CurveAvailable() { return zmq_has("curve") != 0; }

CurveKeyPair GenerateCurveKeyPair() {
  if (!CurveAvailable())
    Fail(ErrorCode::kFailedPrecondition,
         "this libzmq was built without CURVE (libsodium); install libzmq5 from Debian");
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0)
    Fail(ErrorCode::kInternal, "zmq_curve_keypair failed: ", zmq_strerror(zmq_errno()));
  return {pub, sec};
}

CurveKeyPair WriteCurveKeyPair(const std::string& dir, const std::string& name) {
  CurveKeyPair kp = GenerateCurveKeyPair();
  std::string sec_path = dir + "/" + name + ".key", pub_path = dir + "/" + name + ".pub";
  mode_t old_mask = ::umask(077);  // the secret is never readable by others, not even briefly
  WriteFileAtomic(sec_path, "# iranker CURVE secret key: keep private\n" + kp.secret_key + "\n");
  ::umask(old_mask);
  if (::chmod(sec_path.c_str(), 0600) != 0)
    Fail(ErrorCode::kInternal, "cannot chmod 0600 ", sec_path, ": ", std::strerror(errno));
  WriteFileAtomic(pub_path, "# iranker CURVE public key\n" + kp.public_key + "\n");
  return kp;
}

std::string ReadCurveKey(const std::string& path) {
  std::ifstream in(path);
  if (!in) Fail(ErrorCode::kNotFound, "cannot read CURVE key file ", path);
  std::string line;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (!ValidZ85Key(line))
      Fail(ErrorCode::kInvalidArgument, "CURVE key file ", path,
           " does not hold a 40-character Z85 key (write one with `iranker keygen`)");
    return line;
  }
  Fail(ErrorCode::kInvalidArgument, "CURVE key file ", path, " holds no key");
}

std::vector<std::string> ReadAuthorizedKeys(const std::string& path) {
  std::ifstream in(path);
  if (!in) Fail(ErrorCode::kNotFound, "cannot read authorised keys file ", path);
  std::vector<std::string> keys;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = Trim(line);  // Z85 keys may contain '#': only a leading '#' starts a comment
    if (line.empty() || line[0] == '#') continue;
    line = line.substr(0, line.find_first_of(" \t"));  // "KEY  # name" (as keygen appends)
    if (!ValidZ85Key(line))
      Fail(ErrorCode::kInvalidArgument, path, ":", n, ": not a 40-character Z85 public key");
    keys.push_back(line);
  }
  return keys;
}

bool IsLoopbackEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("inproc://", 0) == 0 || endpoint.rfind("ipc://", 0) == 0) return true;
  if (endpoint.rfind("tcp://", 0) != 0) return false;
  std::string host = Host(endpoint);
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0 || host == "lo";
}

void CheckBindAllowed(const std::string& endpoint, const SecurityOptions& security) {
  if (IsLoopbackEndpoint(endpoint) || security.curve || security.allow_insecure_remote) return;
  Fail(ErrorCode::kFailedPrecondition, "refusing to bind non-loopback endpoint ", endpoint,
       " without CURVE: set comm security.curve (keys from `iranker keygen`) or, on a trusted "
       "network, security.allow_insecure_remote");
}

std::shared_ptr<ZapHandler> ZapHandler::ForContext(zmq::context_t& ctx) {
  static Mutex mu;
  static std::map<void*, std::weak_ptr<ZapHandler>> handlers IR_GUARDED_BY(mu);
  MutexLock lock(mu);
  auto& weak = handlers[ctx.handle()];
  if (auto h = weak.lock()) return h;
  auto h = std::make_shared<ZapHandler>(ctx);
  weak = h;
  return h;
}

ZapHandler::ZapHandler(zmq::context_t& ctx) : socket_(ctx, zmq::socket_type::rep) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind("inproc://zeromq.zap.01");
  thread_ = std::thread([this] {
    NameThisThread("ir-zap");
    Run();
  });
}

ZapHandler::~ZapHandler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::Authorize(const std::string& domain, const std::vector<std::string>& keys) {
  MutexLock lock(mu_);
  keys_[domain].insert(keys.begin(), keys.end());
}

void ZapHandler::Run() {
  while (!stop_) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(50)) == 0) continue;
    std::vector<zmq::message_t> req;
    while (true) {
      zmq::message_t m;
      if (!socket_.recv(m, zmq::recv_flags::none)) break;
      bool more = m.more();
      req.push_back(std::move(m));
      if (!more) break;
    }
    // ZAP 1.0 request: version, request id, domain, address, identity, mechanism, credentials.
    std::string request_id = req.size() > 1 ? req[1].to_string() : "";
    std::string domain = req.size() > 2 ? req[2].to_string() : "";
    std::string address = req.size() > 3 ? req[3].to_string() : "";
    std::string mechanism = req.size() > 5 ? req[5].to_string() : "";
    bool ok = false;
    std::string who = "(none)";
    if (req.size() >= 7 && mechanism == "CURVE" && req[6].size() == 32) {
      char z85[41];
      zmq_z85_encode(z85, req[6].data<uint8_t>(), 32);
      who = z85;
      MutexLock lock(mu_);
      auto it = keys_.find(domain);
      ok = it != keys_.end() && it->second.count(who) > 0;
    }
    if (ok) {
      ++accepted_;
    } else {
      ++refused_;
      IR_LOG_WARN("comm: refused a {} connection from {} (domain '{}', key {}): key not authorised",
                  mechanism.empty() ? "?" : mechanism, address, domain, who);
    }
    const char* code = ok ? "200" : "400";
    socket_.send(zmq::buffer(std::string("1.0")), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(std::string(code)), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(std::string(ok ? "OK" : "key not authorised")),
                 zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(ok ? who : std::string()), zmq::send_flags::sndmore);
    socket_.send(zmq::message_t(), zmq::send_flags::none);
  }
}

std::shared_ptr<ZapHandler> ApplyServerSecurity(zmq::context_t& ctx, zmq::socket_t& socket,
                                                const SecurityOptions& s,
                                                const std::string& domain) {
  if (!s.curve) return nullptr;
  if (!CurveAvailable())
    Fail(ErrorCode::kFailedPrecondition, "CURVE requested but libzmq lacks it");
  if (s.authorized_keys_file.empty())
    Fail(ErrorCode::kInvalidArgument,
         "CURVE server needs security.authorized_keys_file (the clients' public keys)");
  auto zap = ZapHandler::ForContext(ctx);
  zap->Authorize(domain, ReadAuthorizedKeys(s.authorized_keys_file));
  socket.set(zmq::sockopt::zap_domain, domain);
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, ReadCurveKey(s.secret_key_file));
  return zap;
}

void ApplyClientSecurity(zmq::socket_t& socket, const SecurityOptions& s) {
  if (!s.curve) return;
  if (s.server_public_key_file.empty())
    Fail(ErrorCode::kInvalidArgument, "CURVE client needs security.server_public_key_file");
  socket.set(zmq::sockopt::curve_serverkey, ReadCurveKey(s.server_public_key_file));
  socket.set(zmq::sockopt::curve_publickey, ReadCurveKey(s.public_key_file));
  socket.set(zmq::sockopt::curve_secretkey, ReadCurveKey(s.secret_key_file));
}

}  // namespace iranker::comm
