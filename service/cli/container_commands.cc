#include "service/cli/container_commands.h"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <memory>

#include "engine/base/time.h"
#include "engine/runtime/frame.h"
#include "service/cli/format.h"
#include "service/cli/run_command.h"
#include "service/cli/stream.h"

namespace slipway::cli {

namespace {

std::string ContainerPath(const std::string& id) {
  return "/containers/" + Escape(id);
}

std::string Since(const Json& c, const char* key, int64_t now) {
  int64_t t = ParseTimestamp(StringField(c, key));
  return t ? HumanDuration(now - t) : "?";
}

// Docker's STATUS column: "Up 2 seconds", "Exited (0) 3 seconds ago"...
std::string StatusText(const Json& c, int64_t now, bool no_trunc) {
  std::string state = StringField(c, "state"), error = StringField(c, "error");
  if (!no_trunc) error = Truncate(error, 40);
  if (state == "running") return "Up " + Since(c, "started_at", now);
  if (state == "failed") return "Failed: " + error;
  if (state == "lost") return error.empty() ? "Lost" : "Lost: " + error;
  if (state != "exited")
    return state.empty() ? "?" : std::string(1, char(std::toupper(state[0]))) + state.substr(1);
  const Json& r = Field(c, "result");
  std::string code = std::to_string(IntField(r, "exit_code", IntField(c, "exit_code")));
  if (BoolField(r, "timed_out")) code += ", timed out";
  if (BoolField(r, "oom_killed")) code += ", out of memory";
  return "Exited (" + code + ") " + Since(c, "finished_at", now) + " ago";
}

std::string CommandText(const Json& c, bool no_trunc) {
  std::string command;
  for (const std::string& arg : StringsField(c, "command")) command += (command.empty() ? "" : " ") + arg;
  return "\"" + (no_trunc ? command : Truncate(command, 20)) + "\"";
}

struct PsOptions {
  bool all = false, quiet = false, no_trunc = false;
};

int Ps(DaemonClient& client, const PsOptions& o) {
  auto answer = client.Get(std::string("/containers?all=") + (o.all ? "true" : "false"));
  if (!answer.ok()) return Fail(answer.status());
  const Json& containers = Field(*answer, "containers");
  auto id_of = [&](const Json& c) {
    std::string id = StringField(c, "id");
    return o.no_trunc ? id : id.substr(0, 12);
  };
  if (o.quiet) {
    for (const Json& c : containers) std::printf("%s\n", id_of(c).c_str());
    return 0;
  }
  int64_t now = NowUnixMs();
  Table table({"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"});
  for (const Json& c : containers) {
    std::string image = StringField(c, "image");
    if (image.empty()) image = StringField(c, "rootfs");
    table.Add({id_of(c), image, CommandText(c, o.no_trunc), Since(c, "created_at", now) + " ago",
               StatusText(c, now, o.no_trunc), StringField(c, "name")});
  }
  table.Print();
  return 0;
}

int Logs(DaemonClient& client, const std::string& id, bool follow) {
  Status st = PrintLogStream(client, ContainerPath(id) + "/logs?follow=" + (follow ? "true" : "false"), id);
  return st.ok() ? 0 : Fail(st);
}

int Start(DaemonClient& client, const std::vector<std::string>& ids, bool attach) {
  if (attach) {
    if (ids.size() != 1) return Fail("start -a takes exactly one container");
    return AttachAndWait(client, ids[0]);
  }
  return ForEachName(ids, [&](const std::string& id) -> Status {
    SLIPWAY_RETURN_IF_ERROR(client.Post(ContainerPath(id) + "/start").status());
    std::printf("%s\n", id.c_str());
    return Status::Ok();
  });
}

// Prints what `slipway run` would have exited with; Docker's `wait`.
int Wait(DaemonClient& client, const std::vector<std::string>& ids) {
  return ForEachName(ids, [&](const std::string& id) -> Status {
    auto c = client.Post(ContainerPath(id) + "/wait", nullptr, DaemonClient::kNoTimeout);
    if (!c.ok()) return c.status();
    std::string message;
    std::printf("%d\n", ExitCodeOf(*c, &message));
    std::fflush(stdout);  // one line per container as each ends
    return Status::Ok();
  });
}

int Stop(DaemonClient& client, const std::vector<std::string>& ids, int64_t timeout) {
  if (timeout < 0) return Fail("--time must not be negative");
  return ForEachName(ids, [&](const std::string& id) -> Status {
    std::string path = ContainerPath(id) + "/stop?timeout=" + std::to_string(timeout);
    SLIPWAY_RETURN_IF_ERROR(client.Post(path, nullptr, DaemonClient::kNoTimeout).status());
    std::printf("%s\n", id.c_str());
    return Status::Ok();
  });
}

int Kill(DaemonClient& client, const std::vector<std::string>& ids, const std::string& signal) {
  return ForEachName(ids, [&](const std::string& id) -> Status {
    SLIPWAY_RETURN_IF_ERROR(client.Post(ContainerPath(id) + "/kill?signal=" + Escape(signal)).status());
    std::printf("%s\n", id.c_str());
    return Status::Ok();
  });
}

int Rm(DaemonClient& client, const std::vector<std::string>& ids, bool force) {
  return ForEachName(ids, [&](const std::string& id) -> Status {
    std::string path = ContainerPath(id) + "?force=" + (force ? "true" : "false");
    SLIPWAY_RETURN_IF_ERROR(client.Delete(path).status());
    std::printf("%s\n", id.c_str());
    return Status::Ok();
  });
}

// Containers first, then images, as `docker inspect`; a JSON array of all
// that were found, even if some were not.
int Inspect(DaemonClient& client, const std::vector<std::string>& names) {
  Json found = Json::array();
  int rc = ForEachName(names, [&](const std::string& name) -> Status {
    auto c = client.Get(ContainerPath(name));
    if (c.ok() || c.status().code() != Code::kNotFound) {
      if (c.ok()) found.push_back(std::move(*c));
      return c.status();
    }
    auto image = client.Get("/images/inspect?ref=" + Escape(name));
    if (image.ok()) found.push_back(std::move(*image));
    if (!image.ok() && image.status().code() == Code::kNotFound) {
      return NotFound("no such container or image: " + name);
    }
    return image.status();
  });
  if (rc == 125) return rc;
  std::printf("%s\n", found.dump(4).c_str());
  return rc;
}

struct StatsOptions {
  std::vector<std::string> ids;
  bool json = false;
  bool no_stream = false;  // accepted, and meaningless: stats prints once
};

int Stats(DaemonClient& client, const StatsOptions& o) {
  Table table({"CONTAINER ID", "NAME", "CPU TIME", "MEM USAGE / LIMIT", "MEM PEAK", "PIDS"});
  Json all = Json::array();
  int rc = ForEachName(o.ids, [&](const std::string& name) -> Status {
    SLIPWAY_ASSIGN_OR_RETURN(Json c, client.Get(ContainerPath(name)));
    SLIPWAY_ASSIGN_OR_RETURN(Json s, client.Get(ContainerPath(name) + "/stats"));
    Json entry = {{"id", StringField(c, "id")}, {"name", StringField(c, "name")}};
    entry.update(s);
    all.push_back(entry);
    int64_t limit = IntField(Field(c, "request"), "memory_bytes");
    char cpu[32];
    std::snprintf(cpu, sizeof cpu, "%.2fs", static_cast<double>(IntField(s, "cpu_usage_ns")) / 1e9);
    int64_t peak = IntField(s, "memory_peak_bytes");
    table.Add({StringField(c, "id").substr(0, 12), StringField(c, "name"), cpu,
               HumanBytes(IntField(s, "memory_bytes")) + " / " + (limit ? HumanBytes(limit) : "no limit"),
               peak ? HumanBytes(peak) : "--", std::to_string(IntField(s, "pids"))});
    return Status::Ok();
  });
  if (rc == 125) return rc;
  if (o.json) {
    std::printf("%s\n", all.dump(4).c_str());
  } else if (!all.empty()) {
    table.Print();
  }
  return rc;
}

struct IdsOptions {
  std::vector<std::string> ids;
  std::string id;     // logs CONTAINER
  bool flag = false;  // start -a, rm -f, logs -f
  int64_t timeout = 10;
  std::string signal = "KILL";
};

}  // namespace

void AddContainerCommands(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<IdsOptions>();
  auto add = [&](const char* name, const char* help, const char* ids_name,
                 std::function<int(DaemonClient&)> run) {
    CLI::App* cmd = app.add_subcommand(name, help);
    cmd->add_option(ids_name, o->ids, "Names, ids or unique id prefixes")->required();
    verbs.push_back({cmd, std::move(run)});
    return cmd;
  };
  add("start", "Start created containers", "CONTAINER", [o](DaemonClient& c) {
    return Start(c, o->ids, o->flag);
  })->add_flag("-a,--attach", o->flag, "Attach to its output and exit with its exit code, as run does");
  add("wait", "Wait for containers to end; print their exit codes", "CONTAINER",
      [o](DaemonClient& c) { return Wait(c, o->ids); });
  add("stop", "Stop running containers (SIGTERM, then SIGKILL)", "CONTAINER",
      [o](DaemonClient& c) { return Stop(c, o->ids, o->timeout); })
      ->add_option("-t,--time", o->timeout, "Seconds to wait before SIGKILL")
      ->default_str("10");
  add("kill", "Send a signal to running containers", "CONTAINER",
      [o](DaemonClient& c) { return Kill(c, o->ids, o->signal); })
      ->add_option("-s,--signal", o->signal, "Signal, by name (TERM, SIGTERM) or number")
      ->default_str("KILL");
  add("rm", "Remove ended containers, their logs and results", "CONTAINER", [o](DaemonClient& c) {
    return Rm(c, o->ids, o->flag);
  })->add_flag("-f,--force", o->flag, "Kill a container that has not ended first");
  add("inspect", "Show containers or images as JSON", "NAME",
      [o](DaemonClient& c) { return Inspect(c, o->ids); });
  CLI::App* logs = app.add_subcommand("logs", "Print a container's output (stdout and stderr)");
  verbs.push_back({logs, [o](DaemonClient& c) { return Logs(c, o->id, o->flag); }});
  logs->add_option("CONTAINER", o->id, "Name, id or unique id prefix")->required();
  logs->add_flag("-f,--follow", o->flag, "Keep printing output until the container ends");

  auto ps_options = std::make_shared<PsOptions>();
  CLI::App* ps = app.add_subcommand("ps", "List containers");
  ps->add_flag("-a,--all", ps_options->all, "Show all containers (default: those that have not ended)");
  ps->add_flag("-q,--quiet", ps_options->quiet, "Only ids");
  ps->add_flag("--no-trunc", ps_options->no_trunc, "Full ids, commands and errors");
  verbs.push_back({ps, [ps_options](DaemonClient& c) { return Ps(c, *ps_options); }});

  auto stats_options = std::make_shared<StatsOptions>();
  CLI::App* stats = app.add_subcommand("stats", "Show running containers' resource usage, once");
  stats->add_option("CONTAINER", stats_options->ids, "Names, ids or unique id prefixes")->required();
  stats->add_flag("--json", stats_options->json, "Print the figures as JSON");
  stats->add_flag("--no-stream", stats_options->no_stream,
                  "Accepted for Docker's sake: stats always prints once");
  verbs.push_back({stats, [stats_options](DaemonClient& c) { return Stats(c, *stats_options); }});
}

}  // namespace slipway::cli
