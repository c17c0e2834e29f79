// `iranker keygen --name NAME [--dir DIR] [--authorize FILE]`: a ZeroMQ CURVE key pair for the
// comm security options (comm/security.h): DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub.
// --authorize appends the new public key to a server's authorised-keys file.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "base/error.h"
#include "cli/commands.h"
#include "comm/security.h"

namespace iranker {

void AddKeygenCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "keygen", "Write a CURVE key pair (NAME.key secret, NAME.pub public) for encrypted comm");
  struct Opts {
    std::string name, dir = ".", authorize;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--name", o->name, "Key pair name, e.g. learner or actor3")->required();
  cmd->add_option("--dir", o->dir, "Directory for the key files (created if missing)");
  cmd->add_option("--authorize", o->authorize,
                  "Also append the public key to this authorised-keys file (a server's list)");
  cmd->add_flag("--force", o->force, "Overwrite an existing key pair");
  cmd->callback([o] {
    namespace fs = std::filesystem;
    if (o->name.empty() || o->name.find('/') != std::string::npos)
      Fail(ErrorCode::kInvalidArgument, "--name must be a plain file name, got '", o->name, "'");
    fs::create_directories(o->dir);
    fs::path secret = fs::path(o->dir) / (o->name + ".key");
    if (fs::exists(secret) && !o->force)
      Fail(ErrorCode::kInvalidArgument, secret.string(), " exists; pass --force to replace it");
    comm::CurveKeyPair kp = comm::WriteCurveKeyPair(o->dir, o->name);
    if (!o->authorize.empty()) {
      std::ofstream out(o->authorize, std::ios::app);
      if (!(out << kp.public_key << "  # " << o->name << "\n"))
        Fail(ErrorCode::kInternal, "cannot append to ", o->authorize);
    }
    std::cout << "wrote " << secret.string() << " (secret, 0600) and "
              << (fs::path(o->dir) / (o->name + ".pub")).string() << "\n"
              << "public key: " << kp.public_key << "\n";
  });
}

}  // namespace iranker
