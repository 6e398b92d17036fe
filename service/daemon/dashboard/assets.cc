#include "service/daemon/dashboard/assets.h"

#include <algorithm>

namespace slipway::daemon::dashboard {

const Asset* FindAsset(std::string_view name) {
  std::span<const Asset> assets = Assets();
  auto it = std::lower_bound(assets.begin(), assets.end(), name,
                             [](const Asset& asset, std::string_view n) { return asset.name < n; });
  return it != assets.end() && it->name == name ? &*it : nullptr;
}

}  // namespace slipway::daemon::dashboard
