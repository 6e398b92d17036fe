#include "service/daemon/pipeline_images.h"

#include <mutex>
#include <string_view>

namespace slipway::daemon {

namespace {

// A build's progress as lines: RUN output arrives in chunks that need not
// end at line ends, from the step's thread; each stream is cut into lines of
// its own, so stdout and stderr never mix within one line.
class LineReporter : public BuildReporter {
 public:
  explicit LineReporter(const pipelines::OutputLine& output) : output_(output) {}
  ~LineReporter() override { Flush(); }

  void Step(int n, int total, const Instruction& instruction) override {
    std::lock_guard lock(mu_);
    FlushLocked();
    output_("Step " + std::to_string(n) + "/" + std::to_string(total) + " : " + instruction.original);
  }
  void Output(Stream stream, std::string_view data) override {
    std::lock_guard lock(mu_);
    std::string& partial = stream == Stream::kStderr ? err_ : out_;
    for (;;) {
      size_t nl = data.find('\n');
      if (nl == std::string_view::npos) break;
      partial.append(data.substr(0, nl));
      output_(partial);
      partial.clear();
      data.remove_prefix(nl + 1);
    }
    partial.append(data);
  }
  void StepDone(bool cached, std::chrono::milliseconds elapsed) override {
    std::lock_guard lock(mu_);
    FlushLocked();
    if (cached) output_(" ---> Using cache");
  }
  void Flush() {
    std::lock_guard lock(mu_);
    FlushLocked();
  }

 private:
  void FlushLocked() {
    for (std::string* partial : {&out_, &err_}) {
      if (partial->empty()) continue;
      output_(*partial);
      partial->clear();
    }
  }

  const pipelines::OutputLine& output_;
  std::mutex mu_;
  std::string out_, err_;
};

}  // namespace

Result<std::string> PipelineImages::Ensure(const std::string& ref, const pipelines::OutputLine& output) {
  auto image = images_.Inspect(ref);
  if (image.ok()) return image->id.str();
  if (image.status().code() != Code::kNotFound) return image.status();
  SLIPWAY_RETURN_IF_ERROR(ImageService::CheckReference(ref));
  output("Pulling " + ref);
  SLIPWAY_ASSIGN_OR_RETURN(ImageRecord pulled, images_.Pull(ref));
  output("Pulled " + ref + ": " + pulled.id.str());
  return pulled.id.str();
}

Result<std::string> PipelineImages::Build(const pipelines::ImageBuildRequest& request,
                                          const pipelines::OutputLine& output, int cancel_fd) {
  BuildRequest build;
  build.context = request.context;
  build.dockerfile = request.dockerfile;
  build.tag = request.tag;
  build.build_args = request.args;
  SLIPWAY_RETURN_IF_ERROR(ImageService::CheckBuild(build));
  LineReporter reporter(output);
  auto image = images_.Build(build, reporter, cancel_fd);
  reporter.Flush();
  if (!image.ok()) return image.status();
  output("Successfully built " + image->id.str() + (request.tag.empty() ? "" : " as " + request.tag));
  return image->id.str();
}

}  // namespace slipway::daemon
