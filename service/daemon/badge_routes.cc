// GET /badge/{repo}/{branch}.svg: a branch's status as a small SVG, in the
// flat style of the badges READMEs carry (docs/dashboard.md). It follows the
// read rule (a read credential, the session cookie, or public reading). Every
// name in it is escaped as XML text, so a hostile branch name cannot become
// markup; the answer is never cached (Cache-Control: no-cache) and may run
// nothing (Content-Security-Policy: default-src 'none').
#include <string>
#include <string_view>

#include "service/daemon/api_routes.h"

namespace slipway::daemon::api {

namespace {

constexpr std::string_view kSvgSuffix = ".svg";

struct Look {
  const char* message;
  const char* color;
};

// The newest run of the branch says it: one in progress is "running".
Look LookOf(const std::optional<pipelines::Run>& run) {
  using pipelines::RunStatus;
  if (!run) return {"unknown", "#9f9f9f"};
  switch (run->status) {
    case RunStatus::kQueued:
    case RunStatus::kRunning: return {"running", "#dfb317"};
    case RunStatus::kSuccess: return {"passing", "#4c1"};
    case RunStatus::kFailure: return {"failing", "#e05d44"};
    case RunStatus::kCancelled: return {"cancelled", "#9f9f9f"};
    default: return {"error", "#fe7d37"};  // error, interrupted
  }
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Verdana 11px is about 7 px a character on average: shields.io's own
// widths are per glyph, this is close enough for short words.
int TextWidth(std::string_view text) {
  return static_cast<int>(text.size()) * 7 + 10;
}

std::string Badge(const std::string& label, const std::string& branch, const Look& look) {
  const int lw = TextWidth(label), mw = TextWidth(look.message), w = lw + mw;
  const std::string l = XmlEscape(label), m = look.message;
  const std::string title = XmlEscape(label + " " + branch + ": " + look.message);
  const std::string W = std::to_string(w), LW = std::to_string(lw), MW = std::to_string(mw);
  // Text is drawn at 10x and scaled down, as shields.io does, for crisp glyphs.
  const std::string lx = std::to_string(lw * 5), mx = std::to_string(lw * 10 + mw * 5);
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + W +
         "\" height=\"20\" role=\"img\" aria-label=\"" + title + "\"><title>" + title +
         "</title><linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" stop-color=\"#bbb\" "
         "stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient><clipPath "
         "id=\"r\"><rect "
         "width=\"" +
         W + "\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath><g clip-path=\"url(#r)\"><rect width=\"" +
         LW + "\" height=\"20\" fill=\"#555\"/><rect x=\"" + LW + "\" width=\"" + MW +
         "\" height=\"20\" fill=\"" + look.color + "\"/><rect width=\"" + W +
         "\" height=\"20\" fill=\"url(#s)\"/></g><g fill=\"#fff\" text-anchor=\"middle\" "
         "font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" font-size=\"110\"><text x=\"" +
         lx + "\" y=\"140\" transform=\"scale(.1)\">" + l + "</text><text x=\"" + mx +
         "\" y=\"140\" transform=\"scale(.1)\">" + m + "</text></g></svg>";
}

}  // namespace

void AddBadgeRoutes(Router& router, Context& context) {
  Context* c = &context;
  router.Add("GET", "/badge/:repo/:branch", kRead, {}, [c](const Request& r, ReplyPtr reply) {
    std::string branch = r.Param("branch");
    if (!branch.ends_with(kSvgSuffix) || branch.size() == kSvgSuffix.size()) {
      return reply->Error(404, "not_found", "a badge is /badge/{repo}/{branch}.svg");
    }
    branch.resize(branch.size() - kSvgSuffix.size());
    auto repo = c->repos.Get(r.Param("repo"));
    if (!repo.ok()) return reply->Error(repo.status());
    pipelines::RunFilter filter;
    filter.repo = repo->name;
    filter.branch = branch;
    filter.limit = 1;
    auto runs = c->runs.List(filter);
    if (!runs.ok()) return reply->Error(runs.status());
    std::optional<pipelines::Run> newest;
    if (!runs->empty()) newest = runs->front();
    reply->SetHeader("Cache-Control", "no-cache");
    reply->SetHeader("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
    reply->SetHeader("X-Content-Type-Options", "nosniff");
    reply->Send(200, "image/svg+xml; charset=utf-8", Badge(repo->name, branch, LookOf(newest)));
  });
}

}  // namespace slipway::daemon::api
