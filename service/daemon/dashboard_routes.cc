// The dashboard's page (docs/dashboard.md, "URLs"): `/` and `/ui` redirect
// to `/ui/`, which is index.html; `/ui/assets/{file}` are the compiled-in
// files (service/daemon/dashboard/assets.h). None needs a credential: the
// page holds no data, its calls to /api/v1/ do. Every answer carries the
// strict Content-Security-Policy and its companions (SetPageHeaders), and a
// strong ETag so that a browser revalidates cheaply (304).
#include <string>
#include <string_view>

#include "service/daemon/api_routes.h"
#include "service/daemon/dashboard/assets.h"

namespace slipway::daemon::api {

namespace {

using dashboard::Asset;
using dashboard::FindAsset;

// Whether an If-None-Match header names `etag` ("*", or a list of tags;
// weak ones compare by their opaque part, as RFC 9110 says for GET).
bool NoneMatchHits(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view tag = header.substr(0, comma);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

void SendAsset(const Asset& asset, const Request& request, Reply& reply) {
  SetPageHeaders(reply);
  // The bytes are fixed per build, but a new slipwayd must be picked up at
  // once: the browser asks every time and mostly gets 304.
  reply.SetHeader("Cache-Control", "no-cache");
  reply.SetHeader("ETag", asset.etag);
  if (!request.if_none_match.empty() && NoneMatchHits(request.if_none_match, asset.etag)) {
    return reply.Send(304, "", "");
  }
  reply.Send(200, asset.content_type, std::string(asset.body));
}

void Redirect(Reply& reply, std::string_view to) {
  SetPageHeaders(reply);
  reply.SetHeader("Location", to);
  reply.Send(302, "text/plain; charset=utf-8", "see " + std::string(to) + "\n");
}

void AddAssetRoute(Router& router, const std::string& pattern, const std::string& prefix) {
  router.Add("GET", pattern, kReadOnly, {}, [prefix](const Request& request, ReplyPtr reply) {
    // The router's decoding refused "/" and ".." inside the segment already;
    // only exact names of the table match anyway.
    const Asset* asset = FindAsset(prefix + request.Param("file"));
    if (!asset || asset->name == "index.html") {
      SetPageHeaders(*reply);
      return reply->Error(404, "not_found", "no such dashboard file: " + prefix + request.Param("file"));
    }
    SendAsset(*asset, request, *reply);
  });
}

}  // namespace

void SetPageHeaders(Reply& reply) {
  reply.SetHeader("Content-Security-Policy",
                  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                  "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
                  "frame-ancestors 'none'");
  reply.SetHeader("X-Content-Type-Options", "nosniff");
  reply.SetHeader("Referrer-Policy", "no-referrer");
  reply.SetHeader("X-Frame-Options", "DENY");
}

void AddDashboardRoutes(Router& router, Context& context) {
  if (!context.dashboard) return;  // config `dashboard: false`: no page at all
  router.Add("GET", "/", kReadOnly, {}, [](const Request&, ReplyPtr reply) { Redirect(*reply, "/ui/"); });
  router.Add("GET", "/ui", kReadOnly, {}, [](const Request&, ReplyPtr reply) { Redirect(*reply, "/ui/"); });
  auto index = [](const Request& request, ReplyPtr reply) {
    const Asset* asset = FindAsset("index.html");
    if (!asset) return reply->Error(500, "internal", "the dashboard was built without index.html");
    SendAsset(*asset, request, *reply);
  };
  router.Add("GET", "/ui/", kReadOnly, {}, index);
  router.Add("GET", "/ui/index.html", kReadOnly, {}, index);
  AddAssetRoute(router, "/ui/assets/:file", "");
  AddAssetRoute(router, "/ui/assets/chunks/:file", "chunks/");
}

}  // namespace slipway::daemon::api
