#include "tests/pipelines/git_fixture.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "tests/testing/fixtures.h"

namespace slipway::testing {

namespace {

namespace fs = std::filesystem;

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A HOME and identity of the tests' own, so no user's git config applies.
const std::string& GitHome() {
  static const std::string home = MakeTempDir("slipway-git-home");
  return home;
}

// Python's CGI handler runs git-http-backend (without fork, so the request
// body is read in full and the backend does not run as nobody); basic auth
// is checked here when TEST_BASIC_AUTH is set.
constexpr char kHttpServer[] = R"(import base64, http.server, os, sys
auth = os.environ.get("TEST_BASIC_AUTH", "")
class Handler(http.server.CGIHTTPRequestHandler):
    cgi_directories = ["/git"]
    have_fork = False
    def allowed(self):
        if not auth:
            return True
        if self.headers.get("Authorization") == "Basic " + base64.b64encode(auth.encode()).decode():
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False
    def do_GET(self):
        if self.allowed():
            super().do_GET()
    def do_POST(self):
        if self.allowed():
            super().do_POST()
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
)";

}  // namespace

std::string Git(const std::string& dir, const std::string& args) {
  std::string out;
  std::string cmd = "cd " + Quote(dir) + " && env HOME=" + Quote(GitHome()) +
                    " GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=tester GIT_AUTHOR_EMAIL=tester@example.com"
                    " GIT_COMMITTER_NAME=tester GIT_COMMITTER_EMAIL=tester@example.com git " +
                    args;
  if (RunShell(cmd, &out) != 0) throw std::runtime_error("failed: " + cmd + "\n" + out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TestRepo::TestRepo() {
  dir_ = MakeTempDir("slipway-gitrepo");
  base_dir_ = dir_ + "/srv";
  work_dir_ = dir_ + "/work";
  fs::create_directories(base_dir_);
  Git(base_dir_, "init -q --bare -b main repo.git");
  Git(dir_, "init -q -b main work");
  WorkGit("remote add origin " + Quote(bare_dir()));
}

TestRepo::~TestRepo() {
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string TestRepo::Commit(const std::map<std::string, std::string>& files, const std::string& message) {
  for (const auto& [path, content] : files) {
    fs::path p = fs::path(work_dir_) / path;
    fs::create_directories(p.parent_path());
    std::error_code ignored;
    fs::remove(p, ignored);
    if (content.starts_with("->")) {
      fs::create_symlink(content.substr(2), p);
    } else {
      std::ofstream(p, std::ios::binary) << content;
    }
  }
  WorkGit("add -A");
  WorkGit("commit -q --allow-empty -m " + Quote(message));
  return WorkGit("rev-parse HEAD");
}

void TestRepo::Push(const std::string& refspec) {
  WorkGit("push -q origin " + refspec);
}

std::string TestRepo::BlobId(const std::string& content) {
  std::string file = dir_ + "/blob";
  std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
  return Git(bare_dir(), "hash-object -w " + Quote(file));
}

std::string TestRepo::SubTree(const std::string& tree_lines) {
  std::string file = dir_ + "/tree";
  std::ofstream(file, std::ios::binary | std::ios::trunc) << tree_lines << "\n";
  return Git(bare_dir(), "mktree --missing < " + Quote(file));
}

std::string TestRepo::LiteralTree(const std::string& mode, const std::string& name,
                                  const std::string& hex_id) {
  std::string bytes = mode + " " + name + std::string(1, '\0');
  for (size_t i = 0; i + 1 < hex_id.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(hex_id.substr(i, 2), nullptr, 16)));
  }
  std::string file = dir_ + "/tree";
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  return Git(bare_dir(), "hash-object -t tree --literally -w " + Quote(file));
}

std::string TestRepo::RawCommit(const std::string& tree_lines, const std::string& branch) {
  std::string tree = SubTree(tree_lines);
  std::string commit = Git(bare_dir(), "commit-tree -m attack " + tree);
  Git(bare_dir(), "update-ref refs/heads/" + branch + " " + commit);
  return commit;
}

GitDaemon::GitDaemon(const std::string& base_dir) {
  dir_ = MakeTempDir("slipway-gitdaemon");
  port_ = FreeLoopbackPort();
  process_ = std::make_unique<ServerProcess>(
      std::vector<std::string>{"/usr/bin/git", "daemon", "--reuseaddr", "--base-path=" + base_dir,
                               "--export-all", "--port=" + std::to_string(port_), "--listen=127.0.0.1",
                               base_dir},
      dir_ + "/daemon.log", std::vector<std::string>{"HOME=" + GitHome(), "GIT_CONFIG_NOSYSTEM=1"});
  process_->WaitForPort(port_);
}

GitHttpServer::GitHttpServer(const std::string& base_dir, const std::string& user,
                             const std::string& password) {
  dir_ = MakeTempDir("slipway-githttp");
  fs::create_directories(dir_ + "/git");
  fs::create_symlink("/usr/lib/git-core/git-http-backend", dir_ + "/git/backend");
  std::ofstream(dir_ + "/server.py") << kHttpServer;
  port_ = FreeLoopbackPort();
  std::vector<std::string> env = {"GIT_PROJECT_ROOT=" + base_dir, "GIT_HTTP_EXPORT_ALL=1",
                                  "HOME=" + GitHome(), "GIT_CONFIG_NOSYSTEM=1"};
  if (!user.empty()) env.push_back("TEST_BASIC_AUTH=" + user + ":" + password);
  process_ = std::make_unique<ServerProcess>(
      std::vector<std::string>{"/usr/bin/python3", dir_ + "/server.py", std::to_string(port_)},
      dir_ + "/server.log", env, dir_);
  process_->WaitForPort(port_);
}

}  // namespace slipway::testing
