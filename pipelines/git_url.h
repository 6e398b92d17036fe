// Repository URLs as slipway accepts them, and their redaction.
//
// A URL may carry a password ("https://user:token@host/repo.git"). It must
// reach the server and nothing else: no log, error message or API answer.
// So a URL is split once, here: libgit2 gets it without the password (the
// password goes through the credential callback, see git_mirror.h), and
// every message names it without any userinfo at all.
#pragma once

#include <string>

#include "engine/base/status.h"

namespace slipway::pipelines {

struct GitUrl {
  // "file", "git", "http", "https" or "ssh" (also for scp-like "user@host:path").
  std::string scheme;
  // What libgit2 connects to: the URL without its password. The user name
  // stays, since ssh needs it.
  std::string for_libgit2;
  // The URL without user name and password: the only form that may appear
  // in a message or a log.
  std::string display;
  // The host (without brackets for IPv6) and port (0: the scheme's
  // default); empty host for file://.
  std::string host;
  int port = 0;
  // The userinfo, percent-decoded; empty when absent.
  std::string username;
  std::string password;
};

// Accepts file://, git://, http://, https://, ssh:// and scp-like
// [user@]host:path. Anything else (a bare local path, ftp://, ext::) is
// kInvalidArgument; the message shows the URL without its userinfo.
Result<GitUrl> ParseGitUrl(const std::string& url);

// `url` with everything between "://" and the host's '@' removed (and, for
// scp-like URLs, the "user@"), whether or not the URL is otherwise valid.
std::string StripUserinfo(const std::string& url);

}  // namespace slipway::pipelines
