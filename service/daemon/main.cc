// slipwayd: wires the engine's stores and runtime to the REST API, and
// nothing else (the work is done by the services it creates).
//
// Start-up: config (and NOTIFY_SOCKET, taken out of the environment) ->
// event log -> exclusive locks on the data and state directories -> control
// token -> image store (hello-world imported from the package's archive if
// missing) and container store (one SQLite file) -> Reconcile() with what
// the machine runs -> the pipelines' store (same file), secret key,
// repositories and runs (observed by the commit status reporter), whose
// Recover() records the runs a crash interrupted -> API (and the webhook
// listener, if it has an address of its own) -> container scheduler, then
// the run scheduler -> READY=1 to systemd once the API answers.
// SIGTERM or SIGINT: STOPPING=1, then drain (runs first, then containers;
// see RunService::Shutdown, ContainerService::Shutdown). SIGHUP: reopen the
// log file.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <memory>

#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/image/image_store.h"
#include "engine/runtime/cgroup.h"
#include "service/daemon/api_server.h"
#include "service/daemon/access_tokens.h"
#include "service/daemon/commit_status_reporter.h"
#include "service/daemon/config.h"
#include "service/daemon/daemon_info.h"
#include "service/daemon/event_hub.h"
#include "service/daemon/hello_world.h"
#include "engine/containers/container_service.h"
#include "engine/containers/container_store.h"
#include "engine/base/event_log.h"
#include "service/daemon/image_publisher.h"
#include "service/daemon/image_service.h"
#include "service/daemon/registry_logins.h"
#include "service/daemon/container_metrics.h"
#include "service/daemon/metrics.h"
#include "pipelines/repo_registry.h"
#include "pipelines/promotion_service.h"
#include "pipelines/run_service.h"
#include "pipelines/secret_box.h"
#include "pipelines/signing_key.h"
#include "pipelines/sqlite_promotion_store.h"
#include "pipelines/sqlite_run_store.h"
#include "pipelines/sqlite_test_store.h"
#include "service/daemon/pipeline_images.h"
#include "service/daemon/readiness.h"
#include "service/daemon/token.h"
#include "service/version/version.h"

namespace slipway::daemon {
namespace {

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, n) : std::string();
}

// The data directory holds the database (every container's environment),
// the control token and image layers with setuid binaries; the state
// directory each sandbox's spec (its environment) and output. Nobody but
// slipwayd's user may enter either. One with a wider mode (0777, 0755) is
// narrowed to 0700, and its old mode returned for the log, if it is
// slipwayd's own: empty (made for it) or used by it before (it holds
// slipwayd.lock). Any other is refused rather than narrowed: a mistyped
// data_dir=/var/lib must not lock every other service out. So is one owned
// by another user, as its owner could open it again at any time.
Result<mode_t> MakePrivateDir(const std::string& dir) {
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + dir);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat " + dir);
  if (st.st_uid != ::geteuid()) {
    return FailedPrecondition(dir + " is owned by uid " + std::to_string(st.st_uid) +
                              ", not by slipwayd's (" + std::to_string(::geteuid()) +
                              "): its owner could open it to anyone; chown it or choose another directory");
  }
  mode_t mode = st.st_mode & 07777;
  if ((mode & 077) == 0) return mode;
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> entries, ListDirAt(fd.get(), dir));
  bool ours = entries.empty() || std::find(entries.begin(), entries.end(), "slipwayd.lock") != entries.end();
  if (!ours) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", mode);
    return FailedPrecondition(dir + " is open to other users (mode " + octal +
                              ") and holds files slipwayd did not make: give slipwayd a directory of its "
                              "own, or chmod 700 it yourself");
  }
  if (::fchmod(fd.get(), 0700) != 0) return ErrnoStatus("chmod 700 " + dir);
  return mode;
}

// Two daemons on one data or state directory would each take the other's
// sandboxes for orphans and kill them: the second one refuses to start.
Result<UniqueFd> LockDir(const std::string& dir) {
  std::string path = dir + "/slipwayd.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return ErrnoStatus("open " + path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return FailedPrecondition("another slipwayd is using " + dir + " (it holds " + path + ")");
    return ErrnoStatus("flock " + path);
  }
  return fd;
}

// Termination signals are taken from a signalfd by the main thread; blocked
// before any thread exists so that every thread inherits the mask.
UniqueFd BlockSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return UniqueFd(::signalfd(-1, &set, SFD_CLOEXEC));
}

// Blocks until SIGTERM or SIGINT; SIGHUP reopens the log.
int AwaitTermination(int signal_fd, EventLog& log) {
  for (;;) {
    signalfd_siginfo info;
    ssize_t n = ::read(signal_fd, &info, sizeof info);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof info)) return SIGTERM;
    if (info.ssi_signo != SIGHUP) return static_cast<int>(info.ssi_signo);
    Status st = log.Reopen();
    if (!st.ok()) log.Error("log.reopen", {{"error", st.message()}});
  }
}

class Daemon {
 public:
  Daemon(DaemonConfig config, SdNotifier notifier)
      : config_(std::move(config)), notifier_(std::move(notifier)) {}

  Status Init(EventLog& log) {
    log_ = &log;
    SLIPWAY_RETURN_IF_ERROR(PrepareDir(config_.data_dir, &data_lock_));
    SLIPWAY_RETURN_IF_ERROR(PrepareDir(config_.state_dir, &state_lock_));
    SLIPWAY_ASSIGN_OR_RETURN(token_, LoadOrCreateToken(TokenPath(config_)));
    SLIPWAY_ASSIGN_OR_RETURN(images_, ImageStore::Open(config_.data_dir, config_.max_layer_bytes));
    ImportHelloWorldIfMissing();
    SLIPWAY_ASSIGN_OR_RETURN(store_, ContainerStore::Open(DatabasePath(config_)));
    SLIPWAY_RETURN_IF_ERROR(OpenContainers());
    SLIPWAY_ASSIGN_OR_RETURN(ReconcileReport report, containers_->Reconcile());
    (void)report;
    ImageServiceOptions image_options;
    image_options.registry.insecure_registries = config_.insecure_registries;
    image_options.registry.credentials_file = RegistryAuthPath(config_);
    // `slipway registry login` logins first (opened with the pipelines, before any transfer).
    image_options.registry.credentials = [this](const std::string& registry) -> std::optional<Credentials> {
      return registry_logins_ ? registry_logins_->Lookup(registry) : std::nullopt;
    };
    image_options.build_dir = BuildDir(config_);
    image_options.build_cache_max_bytes = config_.build_cache_max_bytes;
    image_options.build_allow_host_network = config_.build_allow_host_network;
    image_options.build_limits.memory_bytes = config_.build_memory_bytes;
    image_options.build_limits.pids_max = config_.build_pids_limit;
    image_service_ = std::make_unique<ImageService>(*images_, *containers_, metrics_, log, image_options);
    SLIPWAY_RETURN_IF_ERROR(OpenPipelines());
    return StartApi();
  }

  void Serve(int signal_fd) {
    containers_->Run();
    if (promotions_) promotions_->Start();
    runs_->Start();
    // Under systemd (Type=notify): READY=1 once the API answers, not before.
    if (Status ready = AnnounceReady(notifier_, listen_host_, api_->port()); !ready.ok())
      log_->Error("sd_notify.failed", {{"error", ready.message()}});
    log_->Info("slipwayd.ready", {{"version", kVersion},
                                  {"listen", config_.listen},
                                  {"webhook_url", PublicUrl(config_) + "/hooks/"},
                                  {"pid", ::getpid()},
                                  {"data_dir", config_.data_dir}});
    int sig = AwaitTermination(signal_fd, *log_);
    log_->Info("slipwayd.stopping",
               {{"signal", sigabbrev_np(sig)}, {"deadline_ms", config_.shutdown_timeout.count()}});
    (void)notifier_.Notify("STOPPING=1");
    api_->SetDraining();
    if (hooks_api_) hooks_api_->SetDraining();
    // Runs first: a run still starting steps would otherwise queue
    // containers while their scheduler stops.
    runs_->Shutdown(config_.shutdown_timeout);
    // A promotion going on is finished (a push cannot be cut short cleanly);
    // the queued ones stay pending for the next slipwayd.
    if (promotions_) promotions_->Stop();
    // The runs' last states (interrupted ones too) get a moment to reach
    // their forges.
    status_reporter_->Stop(
        std::min<std::chrono::milliseconds>(config_.shutdown_timeout, std::chrono::seconds(5)));
    containers_->Shutdown(config_.shutdown_timeout);
    if (hooks_api_) hooks_api_->Shutdown();
    api_->Shutdown();
    log_->Info("slipwayd.stopped",
               {{"running_left", containers_->running()}, {"runs_left", runs_->running()}});
  }

 private:
  Status PrepareDir(const std::string& dir, UniqueFd* lock) {
    SLIPWAY_ASSIGN_OR_RETURN(mode_t mode, MakePrivateDir(dir));
    if ((mode & 077) != 0) {
      char old[8];
      std::snprintf(old, sizeof old, "%04o", mode);
      log_->Warn("dir.made_private", {{"dir", dir}, {"old_mode", old}, {"mode", "0700"}});
    }
    SLIPWAY_ASSIGN_OR_RETURN(*lock, LockDir(dir));
    return Status::Ok();
  }

  // A broken archive is logged, not fatal: slipwayd serves without hello-world.
  void ImportHelloWorldIfMissing() {
    const std::string archive = HelloWorldArchivePath(config_, SelfExe());
    Result<bool> imported = ImportHelloWorld(*images_, archive);
    if (!imported.ok()) {
      log_->Warn("image.hello_world_failed", {{"archive", archive}, {"error", imported.status().message()}});
    } else if (*imported) {
      log_->Info("image.hello_world_imported", {{"archive", archive}});
    }
  }

  Status OpenContainers() {
    ContainerServiceOptions options;
    options.runtime.state_dir = config_.state_dir;
    options.runtime.cgroup_parent = config_.cgroup_parent;
    options.monitor_binary = MonitorBinaryPath(config_, SelfExe());
    if (::access(options.monitor_binary.c_str(), X_OK) != 0)
      return ErrnoStatus("slipway-monitor at " + options.monitor_binary + " (set monitor_binary)");
    options.max_running = config_.max_running;
    options.max_queued = config_.max_queued;
    SLIPWAY_ASSIGN_OR_RETURN(containers_,
                             ContainerService::Open(options, *store_, *images_, *log_, &container_metrics_));
    return Status::Ok();
  }

  // After Reconcile(): the containers of runs a crash interrupted are gone
  // by now, and Recover() records those runs interrupted.
  Status OpenPipelines() {
    SLIPWAY_ASSIGN_OR_RETURN(run_store_, pipelines::SqliteRunStore::Open(DatabasePath(config_)));
    // After the run store: its tables are the ones the tests' refer to.
    SLIPWAY_ASSIGN_OR_RETURN(test_store_, pipelines::SqliteTestStore::Open(DatabasePath(config_)));
    SLIPWAY_ASSIGN_OR_RETURN(pipelines::SecretBox box,
                             pipelines::SecretBox::LoadOrCreate(SecretKeyPath(config_)));
    secret_box_ = std::make_unique<pipelines::SecretBox>(std::move(box));
    // Promotion's registry side: logins (sealed by the box), the provenance key, the publisher.
    SLIPWAY_ASSIGN_OR_RETURN(registry_logins_, RegistryLogins::Open(DatabasePath(config_), *secret_box_));
    // The dashboard's access tokens (component "access_tokens"), hashed.
    SLIPWAY_ASSIGN_OR_RETURN(access_tokens_, AccessTokens::Open(DatabasePath(config_)));
    SLIPWAY_ASSIGN_OR_RETURN(pipelines::SigningKey key,
                             pipelines::SigningKey::LoadOrCreate(SigningKeyPath(config_)));
    signing_key_ = std::make_unique<pipelines::SigningKey>(std::move(key));
    publisher_ = std::make_unique<RegistryPublisher>(*image_service_);
    // The state directory is 0700 already; its ssh dir is made so too,
    // whatever the umask or an older slipwayd left.
    const std::string ssh_dir = SshDir(config_);
    SLIPWAY_RETURN_IF_ERROR(MakeDirs(ssh_dir, 0700));
    if (::chmod(ssh_dir.c_str(), 0700) != 0) return ErrnoStatus("chmod 700 " + ssh_dir);
    repos_ = std::make_unique<pipelines::RepoRegistry>(*run_store_, *secret_box_, ssh_dir);
    pipeline_images_ = std::make_unique<PipelineImages>(*image_service_);
    pipelines::RunServiceOptions options;
    options.runs_dir = RunsDir(config_);
    options.mirrors_dir = MirrorsDir(config_);
    options.max_runs = config_.max_runs;
    options.step_log_max_bytes = config_.step_log_max_bytes;
    options.keep_failed_workspaces = config_.keep_failed_workspaces;
    options.keep_runs = config_.keep_runs;
    options.reports_max_bytes = config_.reports_max_bytes;
    options.tests = test_store_.get();
    options.default_limits = {config_.step_default_timeout.count(), config_.step_default_memory,
                              config_.step_default_cpus, config_.step_default_pids};
    options.max_limits = {config_.step_max_timeout.count(), config_.step_max_memory, config_.step_max_cpus,
                          config_.step_max_pids};
    SLIPWAY_ASSIGN_OR_RETURN(runs_, pipelines::RunService::Open(options, *run_store_, *repos_, *containers_,
                                                                *pipeline_images_, *log_));
    CommitStatusOptions status_options;
    status_options.public_url = PublicUrl(config_);
    status_options.retry_for = config_.status_retry_for;
    status_reporter_ = std::make_unique<CommitStatusReporter>(status_options, *repos_, *log_);
    runs_->AddObserver(status_reporter_.get());
    // The dashboard's live events (GET /api/v1/events).
    event_hub_ = std::make_unique<EventHub>();
    runs_->AddObserver(event_hub_.get());
    SLIPWAY_ASSIGN_OR_RETURN(int interrupted, runs_->Recover());
    if (interrupted > 0) log_->Warn("runs.interrupted", {{"count", interrupted}});
    return OpenPromotions(*publisher_, *signing_key_);
  }

  // Promotion: the audit (same database, component "promotions") and the
  // service, observing the runs before they start (Serve() starts its
  // worker), after Recover() has recorded the runs a crash interrupted.
  Status OpenPromotions(pipelines::ImagePublisher& publisher, const pipelines::SigningKey& key) {
    SLIPWAY_ASSIGN_OR_RETURN(promotion_store_, pipelines::SqlitePromotionStore::Open(DatabasePath(config_)));
    pipelines::PromotionOptions options;
    options.retries = config_.promotion_retries;
    options.backoff = config_.promotion_backoff;
    options.max_backoff = config_.promotion_max_backoff;
    options.builder_id = PublicUrl(config_);
    promotions_ = std::make_unique<pipelines::PromotionService>(options, *run_store_, *promotion_store_, publisher,
                                                               key, *log_);
    runs_->AddObserver(promotions_.get());
    SLIPWAY_ASSIGN_OR_RETURN(int recovered, promotions_->Recover());
    if (recovered > 0) log_->Warn("promotions.recovered", {{"count", recovered}});
    return Status::Ok();
  }

  Status StartApi() {
    SLIPWAY_ASSIGN_OR_RETURN(ListenAddress listen, ParseListenAddress(config_.listen));
    SLIPWAY_ASSIGN_OR_RETURN(CgroupDriver cgroups, CgroupDriver::Detect(config_.cgroup_parent));
    ApiServerOptions options;
    options.host = listen.host;
    options.port = listen.port;
    listen_host_ = listen.host;
    options.threads = config_.api_threads;
    options.max_body_bytes = config_.max_body_bytes;
    options.max_head_bytes = config_.api_max_head_bytes;
    options.max_connections = config_.api_max_connections;
    options.header_timeout = config_.api_header_timeout;
    options.body_timeout = config_.api_body_timeout;
    options.idle_timeout = config_.api_idle_timeout;
    options.token = token_;
    options.webhook_max_body_bytes = config_.webhook_max_body_bytes;
    options.delivery_keep = config_.webhook_delivery_keep;
    options.tests = test_store_.get();
    options.promotions = promotions_.get();
    options.promotion_audit = promotion_store_.get();
    options.registry_logins = registry_logins_.get();
    options.signing_key = signing_key_.get();
    options.access_tokens = access_tokens_.get();
    options.dashboard = config_.dashboard;
    options.dashboard_public_read = config_.dashboard_public_read;
    options.events = event_hub_.get();
    // Webhooks on an address of their own: that listener serves only them,
    // and the API none.
    const bool own_hooks_listener =
        !config_.webhook_listen.empty() && config_.webhook_listen != config_.listen;
    options.hooks = own_hooks_listener ? ApiServerOptions::Hooks::kNone : ApiServerOptions::Hooks::kAlso;
    DaemonInfo info = DescribeDaemon(config_, cgroups);
    api_ = std::make_unique<ApiServer>(options, *containers_, *image_service_, *repos_, *runs_, *run_store_,
                                       metrics_, *log_, info);
    SLIPWAY_RETURN_IF_ERROR(api_->Start());
    if (!own_hooks_listener) return Status::Ok();
    SLIPWAY_ASSIGN_OR_RETURN(ListenAddress hooks, ParseListenAddress(config_.webhook_listen));
    options.host = hooks.host;
    options.port = hooks.port;
    options.hooks = ApiServerOptions::Hooks::kOnly;
    hooks_api_ = std::make_unique<ApiServer>(options, *containers_, *image_service_, *repos_, *runs_,
                                             *run_store_, metrics_, *log_, info);
    return hooks_api_->Start();
  }

  DaemonConfig config_;
  SdNotifier notifier_;
  std::string listen_host_;  // the API's, for the readiness probe
  EventLog* log_ = nullptr;
  UniqueFd data_lock_, state_lock_;
  std::string token_;
  Metrics metrics_;
  ContainerMetrics container_metrics_{metrics_};
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<ContainerStore> store_;
  std::unique_ptr<ContainerService> containers_;
  std::unique_ptr<ImageService> image_service_;
  std::unique_ptr<pipelines::SqliteRunStore> run_store_;
  std::unique_ptr<pipelines::SqliteTestStore> test_store_;
  std::unique_ptr<pipelines::SecretBox> secret_box_;
  std::unique_ptr<RegistryLogins> registry_logins_;
  std::unique_ptr<AccessTokens> access_tokens_;
  std::unique_ptr<pipelines::SigningKey> signing_key_;
  std::unique_ptr<RegistryPublisher> publisher_;  // promotion's ImagePublisher
  std::unique_ptr<pipelines::RepoRegistry> repos_;
  std::unique_ptr<PipelineImages> pipeline_images_;
  std::unique_ptr<CommitStatusReporter> status_reporter_;  // before runs_: it observes them
  std::unique_ptr<EventHub> event_hub_;                    // before runs_: it observes them
  std::unique_ptr<pipelines::SqlitePromotionStore> promotion_store_;
  std::unique_ptr<pipelines::PromotionService> promotions_;  // before runs_: it observes them
  std::unique_ptr<pipelines::RunService> runs_;            // before api_: the API uses it
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<ApiServer> hooks_api_;  // the --webhook-listen listener, if it has an address of its own
};

int Main(int argc, char** argv) {
  // A client closing its connection while a reply is written must not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  DaemonArgs args = ParseDaemonArgs(argc, argv);
  if (args.exit_code) {
    std::fputs(args.output.c_str(), *args.exit_code == 0 ? stdout : stderr);
    return *args.exit_code;
  }
  // Before any thread: it unsets NOTIFY_SOCKET.
  SdNotifier notifier = SdNotifier::FromEnvironment();
  UniqueFd signals = BlockSignals();
  auto level = ParseLogLevel(args.config.log_level);
  auto log = EventLog::Open(args.config.log_file, level.ok() ? *level : LogLevel::kInfo);
  if (!log.ok()) {
    std::fprintf(stderr, "slipwayd: %s\n", log.status().message().c_str());
    return 1;
  }
  Daemon daemon(args.config, std::move(notifier));
  Status st = daemon.Init(**log);
  if (!st.ok()) {
    (*log)->Error("slipwayd.failed", {{"error", st.message()}});
    std::fprintf(stderr, "slipwayd: %s\n", st.message().c_str());
    return 1;
  }
  daemon.Serve(signals.get());
  return 0;
}

}  // namespace
}  // namespace slipway::daemon

int main(int argc, char** argv) {
  return slipway::daemon::Main(argc, argv);
}
