// The image config's JSON: what Slipway reads from other tools' images and
// writes into its own.
#include "engine/oci/image_config.h"

#include <gtest/gtest.h>

namespace slipway {
namespace {

TEST(ImageConfigTest, ReadsDockersExtensions) {
  auto config = ImageConfig::Parse(R"({
    "architecture": "amd64", "os": "linux",
    "config": {"Cmd": ["sh"], "StopSignal": "SIGQUIT", "Volumes": {"/data": {}},
               "Shell": ["/bin/bash", "-c"], "OnBuild": ["RUN make"],
               "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 5000000000, "Retries": 2}},
    "rootfs": {"type": "layers", "diff_ids": []}})");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->stop_signal, "SIGQUIT");
  EXPECT_EQ(config->volumes, std::vector<std::string>{"/data"});
  EXPECT_EQ(config->shell, (std::vector<std::string>{"/bin/bash", "-c"}));
  EXPECT_EQ(config->on_build, std::vector<std::string>{"RUN make"});
  ASSERT_TRUE(config->healthcheck.has_value());
  EXPECT_EQ(config->healthcheck->test, (std::vector<std::string>{"CMD-SHELL", "true"}));
  EXPECT_EQ(config->healthcheck->interval_ns, 5000000000);
  EXPECT_EQ(config->healthcheck->retries, 2);
  EXPECT_EQ(config->healthcheck->timeout_ns, 0);
}

TEST(ImageConfigTest, RoundTripsEveryField) {
  ImageConfig config;
  config.user = "app";
  config.env = {"A=1"};
  config.cmd = {"run"};
  config.volumes = {"/b", "/a"};
  config.stop_signal = "9";
  config.shell = {"/bin/sh", "-ec"};
  config.on_build = {"COPY . /src", "RUN make"};
  config.healthcheck = Healthcheck{{"NONE"}, 0, 0, 0, 0, 0};
  auto back = ImageConfig::Parse(config.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->volumes, (std::vector<std::string>{"/a", "/b"}));  // a set: sorted
  EXPECT_EQ(back->stop_signal, "9");
  EXPECT_EQ(back->shell, config.shell);
  EXPECT_EQ(back->on_build, config.on_build);
  EXPECT_EQ(back->healthcheck, config.healthcheck);
  EXPECT_EQ(back->ToJson(), ImageConfig::Parse(back->ToJson())->ToJson());
  // Absent fields stay absent: older images keep their ids when re-encoded.
  EXPECT_EQ(ImageConfig().ToJson().find("Healthcheck"), std::string::npos);
  EXPECT_EQ(ImageConfig().ToJson().find("Volumes"), std::string::npos);
}

}  // namespace
}  // namespace slipway
