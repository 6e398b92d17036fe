#include "tests/testing/daemon_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "engine/base/ascii.h"
#include "engine/runtime/frame.h"
#include "tests/testing/fixtures.h"

extern char** environ;

namespace slipway::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

DaemonBinaries g_binaries;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string RandomHex(int digits) {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < digits; ++i) out += "0123456789abcdef"[rd() % 16];
  return out;
}

std::string Tail(const std::string& text, size_t max = 6000) {
  return text.size() <= max ? text : "[...]\n" + text.substr(text.size() - max);
}

// Lines of /proc/self/mountinfo that mention any of `paths`.
std::vector<std::string> MountinfoMentioning(const std::vector<std::string>& paths) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    for (const std::string& p : paths) {
      if (!p.empty() && line.find(p) != std::string::npos) {
        out.push_back(line);
        break;
      }
    }
  }
  return out;
}

// The busybox rootfs as a tar, made once per process and removed at its exit.
const std::string& BusyboxTarFile() {
  static const std::string path = [] {
    static std::string dir = MakeTempDir("slipwayd-busybox-tar");
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(dir, ec);
    });
    std::string p = dir + "/busybox.tar";
    std::string output;
    if (RunShell("tar -C '" + BusyboxRootfs() + "' -cf '" + p + "' .", &output) != 0) {
      ADD_FAILURE() << "tar of the busybox rootfs failed: " << output;
    }
    return p;
  }();
  return path;
}

// Every pid in cgroup directory `dir` (cgroup.procs).
std::vector<pid_t> ProcsOf(const std::string& dir) {
  std::ifstream in(dir + "/cgroup.procs");
  std::vector<pid_t> pids;
  pid_t pid;
  while (in >> pid) pids.push_back(pid);
  return pids;
}

}  // namespace

// --- Binaries -------------------------------------------------------------------

bool InitDaemonBinaries(int argc, char** argv) {
  std::string* slots[] = {&g_binaries.slipwayd, &g_binaries.monitor, &g_binaries.cli};
  const char* names[] = {"slipwayd", "slipway-monitor", "slipway"};
  bool ok = true;
  for (int i = 0; i < 3; ++i) {
    char resolved[PATH_MAX];
    if (argc > i + 1 && ::realpath(argv[i + 1], resolved)) {
      *slots[i] = resolved;
    } else {
      std::cerr << "argument " << i + 1 << " must be the path of " << names[i] << "\n";
      ok = false;
    }
  }
  return ok;
}

const DaemonBinaries& Binaries() {
  return g_binaries;
}

// --- HTTP -------------------------------------------------------------------------

json HttpReply::Json() const {
  return json::parse(body, nullptr, /*allow_exceptions=*/false);
}

std::string HttpReply::Header(const std::string& name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? "" : it->second;
}

std::string HttpReply::ErrorCode() const {
  json j = Json();
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return "";
  const json& code = j["error"]["code"];
  return code.is_string() ? code.get<std::string>() : "";
}

std::ostream& operator<<(std::ostream& os, const HttpReply& r) {
  if (r.status == 0) return os << "no answer (" << r.error << ")";
  return os << "HTTP " << r.status << " [" << r.content_type << "] " << Tail(r.body, 2000);
}

::testing::AssertionResult IsApiError(const HttpReply& r, int status, const std::string& code) {
  auto fail = [&]() {
    return ::testing::AssertionFailure() << "want " << status << " " << code << ", got " << r;
  };
  if (r.status != status) return fail();
  json j = r.Json();
  if (!j.is_object() || j.size() != 1 || !j.contains("error") || !j["error"].is_object()) {
    return fail() << "\n(the body is not {\"error\": {...}})";
  }
  const json& e = j["error"];
  if (!e.contains("code") || !e["code"].is_string() || e["code"] != code) return fail();
  if (!e.contains("message") || !e["message"].is_string() || e["message"].get<std::string>().empty()) {
    return fail() << "\n(no message)";
  }
  if (!r.content_type.starts_with("application/json")) return fail() << "\n(Content-Type is not JSON)";
  return ::testing::AssertionSuccess();
}

HttpReply ApiClient::Send(const std::string& method, const std::string& path, const std::string& body,
                          const std::string& content_type, const std::vector<std::string>& headers) const {
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(120, 0);
  client.set_write_timeout(30, 0);
  httplib::Headers h;
  if (!token_.empty()) h.emplace("Authorization", "Bearer " + token_);
  for (const std::string& line : headers) {
    size_t colon = line.find(':');
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    h.emplace(line.substr(0, colon), value);
  }
  auto send = [&]() -> httplib::Result {
    if (method == "GET") return client.Get(path.c_str(), h);
    if (method == "DELETE") return client.Delete(path.c_str(), h, body, content_type);
    if (method == "POST") return client.Post(path.c_str(), h, body, content_type);
    if (method == "PUT") return client.Put(path.c_str(), h, body, content_type);
    if (method == "PATCH") return client.Patch(path.c_str(), h, body, content_type);
    httplib::Request req;
    req.method = method;
    req.path = path;
    req.headers = h;
    req.body = body;
    if (!content_type.empty()) req.headers.emplace("Content-Type", content_type);
    return client.send(req);
  };
  httplib::Result res = send();
  HttpReply reply;
  if (!res) {
    reply.error = httplib::to_string(res.error());
    return reply;
  }
  reply.status = res->status;
  reply.body = res->body;
  reply.content_type = res->get_header_value("Content-Type");
  for (const auto& [name, value] : res->headers) reply.headers.emplace(Lower(name), value);
  return reply;
}

HttpReply ApiClient::SendRaw(const std::string& method, const std::string& path, const std::string& body,
                             const std::vector<std::string>& headers) const {
  std::string request =
      method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) + "\r\n";
  if (!token_.empty()) request += "Authorization: Bearer " + token_ + "\r\n";
  for (const std::string& h : headers) request += h + "\r\n";
  if (!body.empty()) request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request += "Connection: close\r\n\r\n" + body;

  HttpReply reply;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    reply.error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return reply;
  }
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (413) before reading it all
    sent += static_cast<size_t>(n);
  }
  // Read until the server closes, or the body is complete: slipwayd (Pistache)
  // answers "Connection: Close" without closing.
  std::string answer;
  char buf[65536];
  auto complete = [&answer]() {
    size_t end = answer.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string head = Lower(answer.substr(0, end));
    if (size_t cl = head.find("\r\ncontent-length:"); cl != std::string::npos) {
      return answer.size() - end - 4 >= std::strtoul(head.c_str() + cl + 17, nullptr, 10);
    }
    return head.find("chunked") != std::string::npos && answer.ends_with("0\r\n\r\n");
  };
  for (ssize_t n; !complete() && (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);

  size_t end = answer.find("\r\n\r\n");
  if (!answer.starts_with("HTTP/1.") || end == std::string::npos) {
    reply.error = "not an HTTP answer: " + answer.substr(0, 200);
    return reply;
  }
  reply.status = std::atoi(answer.c_str() + answer.find(' ') + 1);
  std::string head = answer.substr(0, end);
  std::string rest = answer.substr(end + 4);
  bool chunked = false;
  std::istringstream lines(head);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string lower = Lower(line);
    if (lower.starts_with("content-type:")) reply.content_type = line.substr(line.find(':') + 2);
    if (size_t colon = line.find(':'); colon != std::string::npos) {
      size_t value = line.find_first_not_of(' ', colon + 1);
      reply.headers.emplace(Lower(line.substr(0, colon)), value == std::string::npos ? "" : line.substr(value));
    }
    if (lower.starts_with("transfer-encoding:") && lower.find("chunked") != std::string::npos) chunked = true;
  }
  if (!chunked) {
    reply.body = rest;
    return reply;
  }
  for (size_t pos = 0;;) {
    size_t eol = rest.find("\r\n", pos);
    if (eol == std::string::npos) break;
    size_t size = std::strtoul(rest.substr(pos, eol - pos).c_str(), nullptr, 16);
    if (size == 0) break;
    reply.body += rest.substr(eol + 2, size);
    pos = eol + 2 + size + 2;
  }
  return reply;
}

HttpReply ApiClient::Get(const std::string& path) const {
  return Send("GET", path, "", "");
}

HttpReply ApiClient::Delete(const std::string& path) const {
  return Send("DELETE", path, "", "");
}

HttpReply ApiClient::Post(const std::string& path, const json& body) const {
  if (body.is_null()) return Send("POST", path, "", "");
  return Send("POST", path, body.dump(), "application/json");
}

// --- Processes ----------------------------------------------------------------------

uint64_t ProcessStartTime(pid_t pid) {
  if (pid <= 0) return 0;
  std::string stat = ReadAll("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  // Fields from 3 (state) on; the start time is field 22.
  std::vector<std::string> f;
  while (fields >> field) f.push_back(field);
  if (f.size() < 20 || f[0] == "Z" || f[0] == "X") return 0;
  return std::stoull(f[19]);
}

bool ProcessAlive(pid_t pid, uint64_t start_time) {
  uint64_t now = ProcessStartTime(pid);
  return now != 0 && (start_time == 0 || now == start_time);
}

std::vector<std::string> Added(std::vector<std::string> before, std::vector<std::string> after) {
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  std::vector<std::string> added;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(added));
  return added;
}

bool DecodeFrames(const std::string& data, std::string* out, std::string* err) {
  FrameDecoder decoder({.allow_end = true}, [&](Stream stream, std::string_view chunk) {
    if (stream == Stream::kStdout) out->append(chunk);
    if (stream == Stream::kStderr) err->append(chunk);
  });
  return decoder.Feed(data).ok() && decoder.at_frame_boundary();
}

// --- DaemonUnderTest ----------------------------------------------------------------

DaemonUnderTest::DaemonUnderTest(std::vector<std::string> extra_args, DaemonBinaries binaries)
    : DaemonUnderTest(std::move(extra_args)) {
  binaries_ = std::move(binaries);
}

DaemonUnderTest::DaemonUnderTest(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {
  static std::atomic<int> counter{0};
  dir_ = MakeTempDir("slipwayd-test");
  data_dir_ = dir_ + "/data";
  fs::create_directories(data_dir_);
  fs::create_directories(dir_ + "/home");
  std::string state = "/run/slipway-test-XXXXXX";
  if (::mkdtemp(state.data()) == nullptr)
    ADD_FAILURE() << "mkdtemp " << state << ": " << std::strerror(errno);
  state_dir_ = state;
  cgroup_parent_ =
      "slipway-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "-" + RandomHex(6);
}

DaemonUnderTest::~DaemonUnderTest() {
  if (running()) {
    RemoveAll();
    if (Terminate() != 0) ADD_FAILURE() << "slipwayd did not exit 0 on SIGTERM\n" << Tail(Log());
  }
  KillWhatIsLeft();
  std::vector<std::string> mounts = MountinfoMentioning({state_dir_, dir_});
  if (!mounts.empty()) {
    ADD_FAILURE() << "mounts left below " << state_dir_ << " or " << dir_ << "; not removing them:\n"
                  << mounts[0];
    return;
  }
  std::error_code ec;
  fs::remove_all(state_dir_, ec);
  fs::remove_all(dir_, ec);
}

std::string DaemonUnderTest::Url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string DaemonUnderTest::Log() const {
  return ReadAll(dir_ + "/slipwayd.log");
}

std::vector<std::string> DaemonUnderTest::Env() const {
  return {"SLIPWAY_HOST=" + Url(), "SLIPWAY_TOKEN_FILE=" + TokenFile()};
}

::testing::AssertionResult DaemonUnderTest::Start() {
  if (running()) return ::testing::AssertionFailure() << "slipwayd is already running";
  bool choose_port = port_ == 0;
  for (int attempt = 0;; ++attempt) {
    if (choose_port) port_ = FreeLoopbackPort();
    auto started = Launch();
    // Another process may have taken the port between the probe and the bind.
    if (started || !choose_port || attempt == 2 || running()) return started;
  }
}

int DaemonUnderTest::ChoosePort() {
  if (port_ == 0) port_ = FreeLoopbackPort();
  return port_;
}

::testing::AssertionResult DaemonUnderTest::Restart() {
  return Start();
}

::testing::AssertionResult DaemonUnderTest::Launch() {
  const DaemonBinaries& b = binaries_ ? *binaries_ : Binaries();
  if (b.slipwayd.empty()) return ::testing::AssertionFailure() << "InitDaemonBinaries() was not called";
  std::vector<std::string> argv = {b.slipwayd,   "--listen",        "127.0.0.1:" + std::to_string(port_),
                                   "--data-dir", data_dir_,         "--state-dir",
                                   state_dir_,   "--cgroup-parent", cgroup_parent_};
  if (!b.monitor.empty()) {
    argv.push_back("--monitor-binary");
    argv.push_back(b.monitor);
  }
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  // HOME is private, so no credentials file of the machine's is used.
  std::vector<std::string> env = {"HOME=" + dir_ + "/home"};
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string(*e).starts_with("HOME=")) env.push_back(*e);
  }
  std::vector<char*> argv_p, env_p;
  for (auto& a : argv) argv_p.push_back(a.data());
  argv_p.push_back(nullptr);
  for (auto& e : env) env_p.push_back(e.data());
  env_p.push_back(nullptr);

  std::string log_path = dir_ + "/slipwayd.log";
  { std::ofstream(log_path, std::ios::app) << "--- slipwayd --listen 127.0.0.1:" << port_ << "\n"; }
  size_t log_offset = Log().size();
  int log = ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here on. If the test dies, so does
    // the daemon (its sandboxes live on under their monitors).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD}) ::signal(sig, SIG_DFL);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    ::execve(argv_p[0], argv_p.data(), env_p.data());
    ::_exit(127);
  }
  ::close(log);
  ::close(devnull);
  if (pid < 0) return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);
  pid_ = pid;

  auto until = Clock::now() + seconds(10);
  httplib::Client probe("127.0.0.1", port_);
  probe.set_connection_timeout(0, 200'000);
  probe.set_read_timeout(2, 0);
  for (;;) {
    int code = 0;
    if (Reap(milliseconds(0), &code)) {
      return ::testing::AssertionFailure() << "slipwayd exited with " << code << " before serving:\n"
                                           << Tail(Log().substr(log_offset));
    }
    auto res = probe.Get("/healthz");
    if (res && res->status == 200) break;
    if (Clock::now() > until) {
      ::kill(pid_, SIGKILL);
      Reap(seconds(10), &code);
      return ::testing::AssertionFailure()
             << "GET /healthz did not answer 200 within 10 s (last: "
             << (res ? std::to_string(res->status) : httplib::to_string(res.error()))
             << "); slipwayd's output:\n"
             << Tail(Log().substr(log_offset));
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  token_ = ReadAll(TokenFile());
  while (!token_.empty() && std::isspace(static_cast<unsigned char>(token_.back()))) token_.pop_back();
  if (token_.empty()) return ::testing::AssertionFailure() << "no token in " << TokenFile();
  if (mounts_at_start_.empty()) mounts_at_start_ = MountinfoMentioning({state_dir_, data_dir_});
  return ::testing::AssertionSuccess();
}

bool DaemonUnderTest::Reap(milliseconds deadline, int* code) {
  if (pid_ <= 0) return true;
  auto until = Clock::now() + deadline;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      return true;
    }
    if (r < 0 && errno != EINTR) {
      *code = -1;
      pid_ = -1;
      return true;
    }
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
}

void DaemonUnderTest::Kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int code;
  Reap(seconds(30), &code);
}

void DaemonUnderTest::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int DaemonUnderTest::Terminate(seconds deadline) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  return WaitForExit(deadline);
}

int DaemonUnderTest::WaitForExit(seconds deadline) {
  if (pid_ <= 0) return -1;
  int code = -1;
  if (Reap(deadline, &code)) return code;
  ::kill(pid_, SIGKILL);
  Reap(seconds(30), &code);
  return -1;
}

Outcome DaemonUnderTest::Cli(const std::vector<std::string>& args, const std::vector<std::string>& env,
                             seconds deadline) const {
  Child c = SpawnCli(args, env);
  return Finish(c, deadline);
}

Child DaemonUnderTest::SpawnCli(const std::vector<std::string>& args,
                                const std::vector<std::string>& env) const {
  std::vector<std::string> argv = {binaries_ ? binaries_->cli : Binaries().cli};
  argv.insert(argv.end(), args.begin(), args.end());
  // `env` wins over Env() for the same variable.
  auto key = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  std::vector<std::string> full_env = env;
  for (const std::string& kv : Env()) {
    if (std::none_of(env.begin(), env.end(), [&](const std::string& e) { return key(e) == key(kv); })) {
      full_env.push_back(kv);
    }
  }
  return Spawn(argv, full_env);
}

// --- Shortcuts ----------------------------------------------------------------------

std::string DaemonUnderTest::ImportBusybox(const std::string& name) {
  HttpReply r = Api().Post("/api/v1/images/import", {{"path", BusyboxTarFile()}, {"name", name}});
  json j = r.Json();
  if (r.status != 201 || !j.is_object() || !j["id"].is_string()) {
    ADD_FAILURE() << "import of the busybox rootfs as " << name << ": " << r;
    return "";
  }
  return j["id"];
}

std::string DaemonUnderTest::Create(const json& request) {
  HttpReply r = Api().Post("/api/v1/containers", request);
  json j = r.Json();
  if (r.status != 201 || !j.is_object() || !j["id"].is_string()) {
    ADD_FAILURE() << "create " << request.dump() << ": " << r;
    return "";
  }
  return j["id"];
}

std::string DaemonUnderTest::CreateAndStart(const json& request) {
  std::string id = Create(request);
  if (id.empty()) return id;
  HttpReply r = Api().Post("/api/v1/containers/" + id + "/start");
  if (r.status != 202) ADD_FAILURE() << "start " << id << ": " << r;
  return id;
}

json DaemonUnderTest::Inspect(const std::string& id) const {
  HttpReply r = Api().Get("/api/v1/containers/" + id);
  if (r.status != 200) {
    ADD_FAILURE() << "inspect " << id << ": " << r;
    return nullptr;
  }
  return r.Json();
}

json DaemonUnderTest::WaitFor(const std::string& id) const {
  HttpReply r = Api().Post("/api/v1/containers/" + id + "/wait");
  if (r.status != 200) {
    ADD_FAILURE() << "wait " << id << ": " << r;
    return nullptr;
  }
  return r.Json();
}

json DaemonUnderTest::WaitForState(const std::string& id, const std::string& state,
                                   milliseconds deadline) const {
  auto until = Clock::now() + deadline;
  json c;
  for (;;) {
    c = Inspect(id);
    if (!c.is_object()) return c;
    std::string now = c.value("state", "");
    if (now == state) return c;
    if (now == "exited" || now == "failed" || now == "lost") {
      ADD_FAILURE() << "container " << id << " is " << now << ", not " << state << ": " << c.dump();
      return c;
    }
    if (Clock::now() > until) {
      ADD_FAILURE() << "container " << id << " is still " << now << ", not " << state << ", after "
                    << deadline.count() << " ms";
      return c;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
}

json DaemonUnderTest::WaitForRun(int64_t id, const std::string& status, milliseconds deadline) const {
  auto until = Clock::now() + deadline;
  json run;
  for (;;) {
    run = Api().Get("/api/v1/runs/" + std::to_string(id)).Json();
    if (run.value("status", "") == status) return run;
    if (Clock::now() > until) {
      ADD_FAILURE() << "run " << id << " never became " << status << ": " << run;
      return run;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
}

std::vector<json> DaemonUnderTest::List(bool all) const {
  HttpReply r = Api().Get(std::string("/api/v1/containers?all=") + (all ? "true" : "false"));
  json j = r.Json();
  if (r.status != 200 || !j.is_object() || !j["containers"].is_array()) {
    ADD_FAILURE() << "list containers: " << r;
    return {};
  }
  return j["containers"].get<std::vector<json>>();
}

void DaemonUnderTest::RemoveAll() {
  for (const json& c : List(true)) {
    std::string id = c.value("id", "");
    HttpReply r = Api().Delete("/api/v1/containers/" + id + "?force=true");
    if (r.status != 204 && r.status != 404) ADD_FAILURE() << "force-remove " << id << ": " << r;
  }
}

double DaemonUnderTest::Metric(const std::string& name) const {
  HttpReply r = Api().WithoutToken().Get("/metrics");
  if (r.status != 200) {
    ADD_FAILURE() << "GET /metrics: " << r;
    return -1;
  }
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(name + " ")) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

std::set<std::string> DaemonUnderTest::PooledSandboxes() const {
  std::set<std::string> ids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state_dir_ + "/sandboxes", ec)) {
    json state = json::parse(ReadAll(e.path().string() + "/state.json"), nullptr, false);
    if (!state.is_object() || !state.value("pooled", false) || !state.contains("owner")) continue;
    const json& owner = state["owner"];
    if (!owner.is_object()) continue;
    if (ProcessAlive(owner.value("pid", 0), owner.value("start_time", uint64_t{0})))
      ids.insert(e.path().filename().string());
  }
  return ids;
}

std::string DaemonUnderTest::Leftovers() const {
  std::string out;
  // A running daemon's pool is not a leftover; once it stopped, it is.
  std::set<std::string> pool = running() ? PooledSandboxes() : std::set<std::string>{};
  for (const std::string& cg : CgroupTree(cgroup_parent_)) {
    if (!pool.count(fs::path(cg).filename().string())) out += "cgroup " + cg + "\n";
  }
  for (const char* sub : {"/sandboxes", "/names"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(state_dir_ + sub, ec)) {
      if (!pool.count(e.path().filename().string())) out += "state " + e.path().string() + "\n";
    }
  }
  for (const std::string& m : Added(mounts_at_start_, MountinfoMentioning({state_dir_, data_dir_}))) {
    out += "mount " + m + "\n";
  }
  return out;
}

std::string DaemonUnderTest::LeftoversAfter(milliseconds deadline) const {
  auto until = Clock::now() + deadline;
  for (;;) {
    std::string left = Leftovers();
    if (left.empty() || Clock::now() > until) return left;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

// Whatever a test (or a daemon bug) left: monitors and sandbox processes,
// by the pid and start time their state files record, then every process in
// the test's cgroups; then the cgroups themselves, leaves first.
void DaemonUnderTest::KillWhatIsLeft() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state_dir_ + "/sandboxes", ec)) {
    json state = json::parse(ReadAll(e.path().string() + "/state.json"), nullptr, false);
    if (!state.is_object()) continue;
    for (const char* who : {"owner", "init"}) {
      if (!state.contains(who) || !state[who].is_object()) continue;
      pid_t pid = state[who].value("pid", 0);
      uint64_t start = state[who].value("start_time", uint64_t{0});
      if (pid > 0 && start > 0 && ProcessAlive(pid, start)) ::kill(pid, SIGKILL);
    }
  }
  auto until = Clock::now() + seconds(10);
  for (;;) {
    std::vector<std::string> tree = CgroupTree(cgroup_parent_);  // parents before children
    for (auto it = tree.rbegin(); it != tree.rend(); ++it) {
      for (pid_t pid : ProcsOf(*it)) ::kill(pid, SIGKILL);
      ::rmdir(it->c_str());
    }
    if (CgroupTree(cgroup_parent_).empty() || Clock::now() > until) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    ::rmdir((h.path() / cgroup_parent_).c_str());
  }
}

std::unique_ptr<DaemonUnderTest> StartDaemon(std::vector<std::string> args) {
  auto daemon = std::make_unique<DaemonUnderTest>(std::move(args));
  auto started = daemon->Start();
  if (!started) {
    ADD_FAILURE() << started.message();
    return nullptr;
  }
  return daemon;
}

std::unique_ptr<DaemonUnderTest> StartDaemonWithBusybox(std::vector<std::string> args) {
  auto daemon = StartDaemon(std::move(args));
  if (!daemon || daemon->ImportBusybox("busybox").empty()) return nullptr;
  return daemon;
}

}  // namespace slipway::testing
