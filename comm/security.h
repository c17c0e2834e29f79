// comm/security.h — bind policy, CURVE keys and the ZAP authenticator.
//
// Policy: endpoints bind to loopback by default. A non-loopback tcp:// bind is refused unless
// CURVE is on or SecurityOptions::allow_insecure_remote is set. With CURVE, servers (learners,
// the weight publisher) run as CURVE servers and consult a ZAP handler that accepts only client
// public keys listed in authorized_keys_file; every refusal is counted and logged. Keys are Z85
// text (40 characters) as written by `iranker keygen` (NAME.key secret, NAME.pub public).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "base/mutex.h"
#include "comm/options.h"

namespace iranker::comm {

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

// True when libzmq was built with CURVE (libsodium).
bool CurveAvailable();
// A fresh key pair; throws Error(kFailedPrecondition) when CURVE is unavailable.
CurveKeyPair GenerateCurveKeyPair();
// Writes DIR/NAME.key (mode 0600) and DIR/NAME.pub atomically; returns the pair.
CurveKeyPair WriteCurveKeyPair(const std::string& dir, const std::string& name);
// Reads one Z85 key (first non-comment line); throws Error naming the file when invalid.
std::string ReadCurveKey(const std::string& path);
// Reads a list of Z85 public keys, one per line (text after the key and lines starting with
// '#' are comments).
std::vector<std::string> ReadAuthorizedKeys(const std::string& path);

// inproc://, ipc://, tcp://127.x.x.x, tcp://localhost, tcp://[::1] are loopback.
bool IsLoopbackEndpoint(const std::string& endpoint);
// Throws Error(kFailedPrecondition) for a non-loopback bind without CURVE (unless allowed).
void CheckBindAllowed(const std::string& endpoint, const SecurityOptions& security);

// The process's ZAP handler for one ZeroMQ context (one per context; shared by every server
// socket in it). Each server socket uses its own ZAP domain with its own authorised keys.
class ZapHandler {
 public:
  static std::shared_ptr<ZapHandler> ForContext(zmq::context_t& ctx);
  ~ZapHandler();  // stops and joins the handler thread

  void Authorize(const std::string& domain, const std::vector<std::string>& z85_keys);
  uint64_t refused() const { return refused_.load(); }
  uint64_t accepted() const { return accepted_.load(); }

  explicit ZapHandler(zmq::context_t& ctx);  // use ForContext

 private:
  void Run();

  zmq::socket_t socket_;
  Mutex mu_;
  std::map<std::string, std::set<std::string>> keys_ IR_GUARDED_BY(mu_);  // domain -> Z85 keys
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> refused_{0}, accepted_{0};
  std::thread thread_;
};

// Server side: CURVE server with this process's secret key and ZAP domain `domain` (authorised
// keys loaded from the options). Returns the ZAP handler the socket relies on (keep it alive as
// long as the socket), or null when CURVE is off. Call before bind.
std::shared_ptr<ZapHandler> ApplyServerSecurity(zmq::context_t& ctx, zmq::socket_t& socket,
                                                const SecurityOptions& security,
                                                const std::string& domain);
// Client side: CURVE client with its key pair and the server's public key. Call before connect.
void ApplyClientSecurity(zmq::socket_t& socket, const SecurityOptions& security);

}  // namespace iranker::comm
