#include "tests/webhooks/payloads.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace slipway::webhooks::testing {
namespace {
constexpr char kDir[] = "tests/webhooks/payloads";
}

std::string Payload(const std::string& forge, const std::string& name) {
  std::string path = std::string(kDir) + "/" + forge + "/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "open " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> AllPayloads() {
  std::vector<std::string> out;
  for (const char* forge : {"github", "gitea", "gitlab"}) {
    for (const auto& entry : std::filesystem::directory_iterator(std::string(kDir) + "/" + forge)) {
      out.push_back(std::string(forge) + "/" + entry.path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace slipway::webhooks::testing
