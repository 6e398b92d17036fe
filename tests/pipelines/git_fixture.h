// Real git repositories for the pipelines tests, made with the git CLI, and
// real servers for them on loopback:
//   TestRepo       a bare repository (the "server" side) and a work clone
//                  that commits and pushes to it; or an attacker's raw
//                  commits written straight into the bare repository
//   GitDaemon      `git daemon` serving the bare repositories (git://)
//   GitHttpServer  `git http-backend` as CGI behind Python's http.server,
//                  optionally with basic auth (smart http://)
// Servers are started and stopped by pid. Set-up failures throw
// std::runtime_error with the command's output.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "tests/testing/server_process.h"

namespace slipway::testing {

// Runs git with `args` (shell syntax) in `dir`, with a config and identity of
// its own; returns its stdout without the trailing newline.
std::string Git(const std::string& dir, const std::string& args);

class TestRepo {
 public:
  TestRepo();
  ~TestRepo();

  // The directory holding the bare repository (what servers export).
  const std::string& base_dir() const { return base_dir_; }
  std::string bare_dir() const { return base_dir_ + "/repo.git"; }
  std::string file_url() const { return "file://" + bare_dir(); }

  // Writes `files` (path -> content; a content starting with "->" makes a
  // symlink to the rest) into the work clone, commits everything and returns
  // the commit id. Not pushed.
  std::string Commit(const std::map<std::string, std::string>& files, const std::string& message);
  // git push origin `refspec` (e.g. "main", "--tags", ":feature").
  void Push(const std::string& refspec);
  // Runs git in the work clone.
  std::string WorkGit(const std::string& args) { return Git(work_dir_, args); }
  const std::string& work_dir() const { return work_dir_; }

  // A commit whose tree is made by `git mktree --missing` from `lines`
  // ("<mode> <type> <id>\t<name>", one per line) in the bare repository,
  // set as refs/heads/`branch`: what an attacker can push. BlobId writes a
  // blob there; SubTree makes a tree from lines the same way.
  std::string RawCommit(const std::string& tree_lines, const std::string& branch);
  std::string BlobId(const std::string& content);
  std::string SubTree(const std::string& tree_lines);
  // A tree object of one entry written as is (git mktree refuses a name
  // holding '/'; hash-object --literally does not check).
  std::string LiteralTree(const std::string& mode, const std::string& name, const std::string& hex_id);

 private:
  std::string dir_, base_dir_, work_dir_;
};

class GitDaemon {
 public:
  explicit GitDaemon(const std::string& base_dir);
  std::string url(const std::string& repo = "repo.git") const {
    return "git://127.0.0.1:" + std::to_string(port_) + "/" + repo;
  }

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<ServerProcess> process_;
};

class GitHttpServer {
 public:
  // With a non-empty `user`, every request without "Basic user:password"
  // is answered 401.
  explicit GitHttpServer(const std::string& base_dir, const std::string& user = "",
                         const std::string& password = "");
  std::string url(const std::string& repo = "repo.git") const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/git/backend/" + repo;
  }
  int port() const { return port_; }
  std::string Log() const { return process_->Log(); }

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<ServerProcess> process_;
};

}  // namespace slipway::testing
