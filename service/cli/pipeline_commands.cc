#include "service/cli/pipeline_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "engine/base/fd.h"
#include "pipelines/pipeline_file.h"

namespace slipway::cli {

namespace {

// At most one byte past the cap: enough for the reader to say the file is
// too large, without reading all of a huge one.
Result<std::string> ReadCapped(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + path);
  std::string text;
  const size_t want = pipelines::kMaxPipelineFileBytes + 1;
  while (text.size() < want) {
    char buf[65536];
    ssize_t n = read(fd.get(), buf, std::min(sizeof buf, want - text.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + path);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

// Prints "FILE:LINE:COL: message" per error on stdout, as compilers and
// linters do, and exits 1; a file without errors prints nothing.
int Lint(const std::string& path) {
  auto text = ReadCapped(path);
  if (!text.ok()) return Fail(text.status());
  std::vector<pipelines::FileError> errors;
  if (pipelines::ParsePipelineFile(*text, &errors).ok()) return 0;
  for (const pipelines::FileError& e : errors) std::printf("%s:%s\n", path.c_str(), e.ToString().c_str());
  return 1;
}

}  // namespace

void AddPipelineCommands(CLI::App& app, Verbs& verbs) {
  auto file = std::make_shared<std::string>();
  CLI::App* pipeline = app.add_subcommand("pipeline", "Pipelines (pipeline lint)");
  pipeline->require_subcommand(1);
  CLI::App* lint =
      pipeline->add_subcommand("lint", "Check a pipeline file (.slipway.yml); needs no slipwayd");
  lint->add_option("FILE", *file, "The pipeline file")->required();
  verbs.push_back({lint, nullptr, [file] { return Lint(*file); }});
}

}  // namespace slipway::cli
