#include "engine/build/dockerfile_lines.h"

#include <optional>
#include <set>

#include "engine/base/ascii.h"

namespace slipway {
namespace {

bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}
bool IsAsciiAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsAsciiAlnum(char c) {
  return IsAsciiAlpha(c) || (c >= '0' && c <= '9');
}

std::string_view TrimLeft(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsBlank(s[i])) ++i;
  return s.substr(i);
}

std::string_view TrimRight(std::string_view s) {
  size_t n = s.size();
  while (n > 0 && IsBlank(s[n - 1])) --n;
  return s.substr(0, n);
}

std::vector<std::string_view> PhysicalLines(std::string_view text) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

struct Directive {
  std::string name;  // lower case
  std::string value;
};

// `# name = value`, as Docker's reDirectives matches the left-trimmed line.
std::optional<Directive> MatchDirective(std::string_view line) {
  line = TrimLeft(line);
  if (line.empty() || line[0] != '#') return std::nullopt;
  std::string_view rest = TrimLeft(line.substr(1));
  size_t n = 0;
  if (rest.empty() || !IsAsciiAlpha(rest[0])) return std::nullopt;
  while (n < rest.size() && IsAsciiAlnum(rest[n])) ++n;
  std::string_view name = rest.substr(0, n);
  rest = TrimLeft(rest.substr(n));
  if (rest.empty() || rest[0] != '=') return std::nullopt;
  std::string_view value = TrimRight(TrimLeft(rest.substr(1)));
  if (value.empty()) return std::nullopt;
  return Directive{Lower(name), std::string(value)};
}

// The words of an instruction line, split at blanks (quotes are not
// special: a quoted `"<<EOF"` starts with a quote and is no marker).
std::vector<std::string_view> BlankWords(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsBlank(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !IsBlank(text[i])) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

bool TakesHeredocs(std::string_view text) {
  std::vector<std::string_view> words = BlankWords(text);
  if (words.empty()) return false;
  std::string keyword = Lower(words[0]);
  return keyword == "run" || keyword == "copy" || keyword == "add";
}

std::string StripLeadingTabs(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && line[i] == '\t') ++i;
  return std::string(line.substr(i));
}

class LineSplitter {
 public:
  LineSplitter(std::string_view text, const std::string& filename)
      : lines_(PhysicalLines(text)), filename_(filename) {}

  Result<DockerfileLines> Run();

 private:
  Status Error(int line, const std::string& message) const {
    return InvalidArgument(filename_ + ":" + std::to_string(line) + ": " + message);
  }
  // Handles the line as a parser directive while they are still allowed.
  Status MaybeDirective(std::string_view line, int number);
  // Removes a trailing escape (and blanks after it); true if it was there.
  bool TrimContinuation(std::string& text) const;
  // The heredocs `line`'s markers announce, read from lines_[*i] on.
  Status ReadHeredocs(LogicalLine& line, size_t* i);

  std::vector<std::string_view> lines_;
  const std::string& filename_;
  DockerfileLines out_;
  bool directives_done_ = false;
  std::set<std::string> seen_;
};

Status LineSplitter::MaybeDirective(std::string_view line, int number) {
  if (directives_done_) return Status::Ok();
  std::optional<Directive> d = MatchDirective(line);
  if (!d || (d->name != "escape" && d->name != "syntax" && d->name != "check")) {
    directives_done_ = true;
    return Status::Ok();
  }
  if (!seen_.insert(d->name).second) {
    return Error(number, "only one " + d->name + " parser directive can be used");
  }
  if (d->name == "escape") {
    if (d->value != "\\" && d->value != "`") {
      return Error(number, "invalid escape token '" + d->value + "' does not match ` or \\");
    }
    out_.escape = d->value[0];
  } else if (d->name == "syntax") {
    out_.syntax = d->value;
  }
  return Status::Ok();
}

bool LineSplitter::TrimContinuation(std::string& text) const {
  size_t n = text.size();
  while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t')) --n;
  if (n == 0 || text[n - 1] != out_.escape) return false;
  text.resize(n - 1);
  return true;
}

Result<DockerfileLines> LineSplitter::Run() {
  size_t i = 0;
  while (i < lines_.size()) {
    int first = static_cast<int>(i) + 1;
    std::string_view raw = lines_[i++];
    SLIPWAY_RETURN_IF_ERROR(MaybeDirective(raw, first));
    std::string_view trimmed = TrimLeft(raw);
    if (!trimmed.empty() && trimmed[0] == '#') continue;
    std::string text(trimmed);
    bool continues = TrimContinuation(text);
    if (!continues && text.empty()) continue;
    while (continues && i < lines_.size()) {
      std::string_view next = lines_[i++];
      std::string_view next_trimmed = TrimLeft(next);
      if (next_trimmed.empty() || next_trimmed[0] == '#') continue;
      std::string part(next);
      continues = TrimContinuation(part);
      text += part;
    }
    if (TrimRight(text).empty()) continue;
    LogicalLine line{first, static_cast<int>(i), std::move(text), {}};
    if (TakesHeredocs(line.text)) SLIPWAY_RETURN_IF_ERROR(ReadHeredocs(line, &i));
    out_.lines.push_back(std::move(line));
  }
  return std::move(out_);
}

Status LineSplitter::ReadHeredocs(LogicalLine& line, size_t* i) {
  for (std::string_view word : BlankWords(line.text)) {
    std::optional<HeredocMarker> marker = ParseHeredocMarker(word);
    if (!marker) continue;
    Heredoc doc{*marker, ""};
    for (;;) {
      if (*i == lines_.size())
        return Error(line.line,
                     "unterminated heredoc " + marker->name + ": no line \"" + marker->name + "\" ends it");
      std::string body = marker->strip_tabs ? StripLeadingTabs(lines_[(*i)++]) : std::string(lines_[(*i)++]);
      if (body == marker->name) break;
      doc.content += body + "\n";
    }
    line.heredocs.push_back(std::move(doc));
  }
  line.end_line = static_cast<int>(*i);
  return Status::Ok();
}

}  // namespace

std::optional<HeredocMarker> ParseHeredocMarker(std::string_view w) {
  size_t i = 0;
  while (i < w.size() && w[i] >= '0' && w[i] <= '9') ++i;
  if (w.substr(i, 2) != "<<") return std::nullopt;
  i += 2;
  HeredocMarker marker;
  if (i < w.size() && w[i] == '-') {
    marker.strip_tabs = true;
    ++i;
  }
  char quote = (i < w.size() && (w[i] == '"' || w[i] == '\'')) ? w[i++] : 0;
  size_t start = i;
  while (i < w.size() && (IsAsciiAlnum(w[i]) || w[i] == '_')) ++i;
  if (i == start) return std::nullopt;
  marker.name = std::string(w.substr(start, i - start));
  if (quote != 0 && (i == w.size() || w[i++] != quote)) return std::nullopt;
  if (i != w.size()) return std::nullopt;
  marker.expand = quote == 0;
  return marker;
}

Result<DockerfileLines> SplitDockerfileLines(std::string_view text, const std::string& filename) {
  return LineSplitter(text, filename).Run();
}

}  // namespace slipway
