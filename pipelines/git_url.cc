#include "pipelines/git_url.h"

#include <optional>

#include "engine/base/ascii.h"
#include "engine/base/url.h"

namespace slipway::pipelines {

namespace {

// Everything up to the last '@' of `s`, or npos. Used for display only, so it
// errs towards removing too much: a password holding an unencoded '/' still
// disappears.
size_t LastAt(const std::string& s, size_t from) {
  size_t at = s.rfind('@');
  return at == std::string::npos || at < from ? std::string::npos : at;
}

Status Invalid(const std::string& url, const std::string& why) {
  return InvalidArgument("repository URL " + StripUserinfo(url) + ": " + why);
}

std::optional<std::string> Decode(const std::string& s) {
  return PercentDecode(s, /*plus_is_space=*/false);
}

// "host", "host:port", "[v6]" or "[v6]:port".
Status SplitHostPort(const std::string& url, const std::string& authority, GitUrl* out) {
  std::string port;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string::npos) return Invalid(url, "unclosed '[' in the host");
    out->host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return Invalid(url, "bad host");
      port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.find(':');
    out->host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (out->host.empty()) return Invalid(url, "no host");
  if (port.empty()) return Status::Ok();
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return Invalid(url, "bad port");
  }
  out->port = std::stoi(port);
  if (out->port < 1 || out->port > 65535) return Invalid(url, "bad port");
  return Status::Ok();
}

}  // namespace

std::string StripUserinfo(const std::string& url) {
  size_t sep = url.find("://");
  size_t start = sep == std::string::npos ? 0 : sep + 3;
  size_t at = LastAt(url, start);
  if (at == std::string::npos) return url;
  return url.substr(0, start) + url.substr(at + 1);
}

Result<GitUrl> ParseGitUrl(const std::string& url) {
  if (url.empty()) return InvalidArgument("repository URL is empty");
  if (HasControlChar(url)) return Invalid(url, "control character in the URL");
  GitUrl out;
  out.display = StripUserinfo(url);
  size_t sep = url.find("://");
  if (sep == std::string::npos) {
    // scp-like: "[user@]host:path", where the host holds no '/' (else it is
    // a local path, which git would take literally and we do not accept).
    size_t colon = url.find(':');
    size_t slash = url.find('/');
    if (colon == std::string::npos || colon == 0 || (slash != std::string::npos && slash < colon)) {
      return Invalid(url, "not a URL (use file:// for a local repository)");
    }
    // "<transport>::<address>" is how git names a remote helper (ext:: runs
    // a command): never a host.
    if (url.compare(colon, 2, "::") == 0)
      return Invalid(url, "remote helpers (<transport>::) are not supported");
    std::string host = url.substr(0, colon);
    if (host.find(' ') != std::string::npos || host.starts_with("-")) return Invalid(url, "bad host");
    size_t at = host.find('@');
    if (at != std::string::npos) out.username = host.substr(0, at);
    if (url.find('@', colon) != std::string::npos) return Invalid(url, "'@' in the path");
    if (at + 1 == host.size()) return Invalid(url, "no host");
    out.host = at == std::string::npos ? host : host.substr(at + 1);
    out.scheme = "ssh";
    out.for_libgit2 = url;
    return out;
  }

  std::string scheme = Lower(url.substr(0, sep));
  if (scheme == "git+ssh" || scheme == "ssh+git") scheme = "ssh";
  if (scheme != "file" && scheme != "git" && scheme != "http" && scheme != "https" && scheme != "ssh") {
    return Invalid(url, "unsupported scheme \"" + scheme + "\" (file, git, http, https, ssh)");
  }
  out.scheme = scheme;
  size_t start = sep + 3;
  size_t path = url.find('/', start);
  std::string authority = url.substr(start, path == std::string::npos ? std::string::npos : path - start);
  std::string rest = path == std::string::npos ? "" : url.substr(path);
  // An '@' after the authority is almost always a password with an
  // unencoded '/': refuse it rather than send half of it as a path.
  if (rest.find('@') != std::string::npos) return Invalid(url, "'@' in the path");

  size_t at = authority.rfind('@');
  std::string raw_user;
  if (at != std::string::npos) {
    std::string userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    size_t colon = userinfo.find(':');
    raw_user = userinfo.substr(0, colon);
    auto user = Decode(raw_user);
    auto pass =
        colon == std::string::npos ? std::optional<std::string>("") : Decode(userinfo.substr(colon + 1));
    if (!user || !pass) return Invalid(url, "bad percent-encoding in the userinfo");
    out.username = *user;
    out.password = *pass;
  }
  if (scheme == "file") {
    if (at != std::string::npos) return Invalid(url, "file:// URLs take no user or password");
    if (!authority.empty() && authority != "localhost") return Invalid(url, "file:// URLs name no host");
    if (rest.empty()) return Invalid(url, "no path");
  } else if (authority.empty()) {
    return Invalid(url, "no host");
  } else {
    SLIPWAY_RETURN_IF_ERROR(SplitHostPort(url, authority, &out));
  }
  out.for_libgit2 = scheme + "://" + (raw_user.empty() ? "" : raw_user + "@") + authority + rest;
  return out;
}

}  // namespace slipway::pipelines
