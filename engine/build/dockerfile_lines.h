// The first pass of Dockerfile parsing: physical lines into logical lines
// (one per instruction), as Docker's parser.Parse joins them.
//
// - A UTF-8 byte order mark before the first line is dropped; "\r\n" ends a
//   line like "\n".
// - Parser directives: while the lines at the very top look like
//   `# name=value` with name `escape`, `syntax` or `check`
//   (case-insensitive), they are directives. The first other line (a blank
//   line, a plain comment, an instruction, an unknown directive) ends them.
//   A directive given twice is an error; `escape` must be `\` or `` ` ``.
// - A line whose first non-blank character is `#` is a comment. Blank lines
//   are skipped.
// - A line ending with the escape character (then optional spaces and tabs)
//   continues on the next line: the escape and what follows it are removed
//   and the next line is appended as is (its leading whitespace kept, no
//   separator). Comment lines and blank lines inside a continuation are
//   skipped. A continuation still open at the end of the file ends there.
// - Heredocs (BuildKit's): a RUN, COPY or ADD line whose words include
//   markers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `2<<EOF`) takes, for each marker
//   in order, the physical lines after it up to one that is exactly the
//   name (for `<<-`, once leading tabs are removed). Those lines are the
//   heredoc's content, taken as they are: no comments, no continuations.
//   A heredoc with no terminating line is an error.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"

namespace slipway {

struct HeredocMarker {
  std::string name;         // EOF
  bool strip_tabs = false;  // <<-EOF: leading tabs are removed from every line
  bool expand = true;       // false for <<"EOF" and <<'EOF'
};
// A word of an instruction line as a heredoc marker, or nullopt (`<<<`,
// `1<<2`, `<<` alone are not markers).
std::optional<HeredocMarker> ParseHeredocMarker(std::string_view word);

struct Heredoc {
  HeredocMarker marker;
  std::string content;  // every line with its "\n" (tabs removed for <<-)
};

struct LogicalLine {
  int line = 0;                   // first physical line, 1-based
  int end_line = 0;               // last physical line, heredocs included
  std::string text;               // leading whitespace of the first line removed
  std::vector<Heredoc> heredocs;  // in the order of their markers
};

struct DockerfileLines {
  char escape = '\\';
  std::string syntax;
  std::vector<LogicalLine> lines;
};

// Errors: "<filename>:<line>: only one escape parser directive can be used",
// "<filename>:<line>: invalid escape token '<x>' does not match ` or \".
Result<DockerfileLines> SplitDockerfileLines(std::string_view text, const std::string& filename);

}  // namespace slipway
