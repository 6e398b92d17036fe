#include "pipelines/yaml_tree.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <exception>
#include <sstream>
#include <unordered_map>

namespace slipway::pipelines {

std::string FileError::ToString() const {
  return std::to_string(at.line) + ":" + std::to_string(at.column) + ": " + message;
}

std::string Quote(std::string_view text) {
  if (text.size() <= kQuotedBytes) return "\"" + std::string(text) + "\"";
  size_t cut = kQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;  // a continuation byte
  return "\"" + std::string(text.substr(0, cut)) + "...\"";
}

const char* KindName(const YamlNode& node) {
  switch (node.kind) {
    case YamlNode::Kind::kNull: return "nothing";
    case YamlNode::Kind::kScalar: return "a string";
    case YamlNode::Kind::kSequence: return "a list";
    case YamlNode::Kind::kMapping: return "a mapping";
  }
  return "?";
}

namespace {

SourceLocation At(const YAML::Mark& mark) {
  // A null mark (-1) is yaml-cpp's "somewhere": the file's start then.
  return {mark.line < 0 ? 1 : mark.line + 1, mark.column < 0 ? 1 : mark.column + 1};
}

// Thrown by the event handler through yaml-cpp to end a parse at once: a
// limit was passed, or the tree cannot be built.
struct Stop {
  FileError error;
};

// YAML's printable characters (c-printable) in well-formed UTF-8: tab, LF,
// CR, U+0020-7E, U+0085, U+00A0-D7FF, U+E000-FFFD, U+10000-10FFFF. yaml-cpp
// would guess UTF-16 or UTF-32 from NUL bytes and take stray bytes as
// Latin-1; refusing both first leaves it well-formed text only.
std::optional<FileError> CheckText(std::string_view text) {
  int line = 1;
  size_t line_start = 0;
  size_t i = 0;
  auto bad = [&](const char* what) { return FileError{{line, static_cast<int>(i - line_start) + 1}, what}; };
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c == '\n') {
        ++line;
        line_start = i + 1;
      } else if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
        return bad("a control character: the file must be UTF-8 text");
      }
      ++i;
      continue;
    }
    int length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (length == 0 || c > 0xf4 || i + length > text.size())
      return bad("not UTF-8: the file must be UTF-8 text");
    uint32_t code = c & (0xff >> (length + 1));
    for (int k = 1; k < length; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return bad("not UTF-8: the file must be UTF-8 text");
      code = (code << 6) | (next & 0x3f);
    }
    static const uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return bad("not UTF-8: the file must be UTF-8 text");
    }
    if ((code >= 0x80 && code < 0xa0 && code != 0x85) || code == 0xfffe || code == 0xffff) {
      return bad("a control character: the file must be UTF-8 text");
    }
    i += length;
  }
  return std::nullopt;
}

// yaml-cpp says "illegal map value" for a tab that indents a line, which
// YAML forbids; the tab itself is the better answer, if it is on the line of
// the error or the one before.
std::optional<FileError> IndentingTab(std::string_view text, int error_line) {
  int line = 1;
  for (size_t start = 0; start <= text.size() && line <= error_line;) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(start, end - start);
    size_t indent = l.find_first_not_of(" \t");
    size_t tab = l.substr(0, indent).find('\t');
    if (line >= error_line - 1 && tab != std::string_view::npos) {
      return FileError{{line, static_cast<int>(tab) + 1},
                       "a tab indents this line: YAML indents with spaces"};
    }
    start = end + 1;
    ++line;
  }
  return std::nullopt;
}

class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(const YamlLimits& limits, std::vector<FileError>* errors) : limits_(limits), errors_(errors) {}

  std::optional<YamlNode> root;

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) throw Stop{{At(mark), "a second YAML document: the file holds one"}};
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YamlNode node;
    node.at = At(mark);
    Charge(node.at);
    Complete(std::move(node), anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) throw Stop{{At(mark), "an alias inside the node it names"}};
    YamlNode copy = Copy(it->second, stack_.size());
    copy.at = At(mark);
    Complete(std::move(copy), 0);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    YamlNode node;
    node.kind = YamlNode::Kind::kScalar;
    node.at = At(mark);
    node.text = value;
    // "?": plain; "!": quoted (YAML's non-specific tag).
    node.quoted = tag == "!" || tag == "tag:yaml.org,2002:str";
    if (tag != "?" && !node.quoted)
      Error(node.at, "the tag " + Quote(tag) + " is not supported (only !!str is)");
    // "\0" in double quotes: no command, name or path can hold it.
    if (value.find('\0') != std::string::npos) Error(node.at, "a NUL character (\\0) in a string");
    Charge(node.at);
    Complete(std::move(node), anchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Begin(YamlNode::Kind::kSequence, At(mark), tag, "tag:yaml.org,2002:seq", anchor);
  }
  void OnSequenceEnd() override { End(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Begin(YamlNode::Kind::kMapping, At(mark), tag, "tag:yaml.org,2002:map", anchor);
  }
  void OnMapEnd() override { End(); }

 private:
  // A collection being read.
  struct Frame {
    YamlNode node;
    YAML::anchor_t anchor = 0;
    std::optional<YamlNode> key;  // a mapping's key whose value comes next
    std::unordered_map<std::string, SourceLocation> keys;
  };

  void Error(SourceLocation at, std::string message) { errors_->push_back({at, std::move(message)}); }

  void Charge(SourceLocation at) {
    if (++nodes_ > limits_.max_nodes) {
      throw Stop{{at, "the file has more than " + std::to_string(limits_.max_nodes) +
                          " YAML nodes (counting every node an alias copies)"}};
    }
  }

  void Begin(YamlNode::Kind kind, SourceLocation at, const std::string& tag, const char* own_tag,
             YAML::anchor_t anchor) {
    if (stack_.size() >= limits_.max_depth) {
      throw Stop{{at, "nested deeper than " + std::to_string(limits_.max_depth) + " levels"}};
    }
    if (tag != "?" && tag != "!" && tag != own_tag) Error(at, "the tag " + Quote(tag) + " is not supported");
    Charge(at);
    Frame frame;
    frame.node.kind = kind;
    frame.node.at = at;
    frame.anchor = anchor;
    stack_.push_back(std::move(frame));
  }

  void End() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    Complete(std::move(frame.node), frame.anchor);
  }

  // A copy of an anchored node for an alias `enclosing` collections deep,
  // charged to the budget as it is made: a billion laughs stops at the
  // budget, after that much work and no more.
  YamlNode Copy(const YamlNode& from, size_t enclosing) {
    if (from.kind == YamlNode::Kind::kSequence || from.kind == YamlNode::Kind::kMapping) {
      if (enclosing >= limits_.max_depth) {
        throw Stop{{from.at, "nested deeper than " + std::to_string(limits_.max_depth) +
                                 " levels (through an alias)"}};
      }
    }
    Charge(from.at);
    copied_bytes_ += from.text.size();
    if (copied_bytes_ > limits_.max_copied_bytes) {
      throw Stop{{from.at, "aliases copy more than " + std::to_string(limits_.max_copied_bytes) + " bytes"}};
    }
    YamlNode to;
    to.kind = from.kind;
    to.at = from.at;
    to.text = from.text;
    to.quoted = from.quoted;
    for (const YamlNode& item : from.items) to.items.push_back(Copy(item, enclosing + 1));
    for (const auto& [key, value] : from.entries) {
      to.entries.emplace_back(Copy(key, enclosing + 1), Copy(value, enclosing + 1));
    }
    return to;
  }

  void Complete(YamlNode node, YAML::anchor_t anchor) {
    // Registered only now that it is whole: an alias inside it finds nothing.
    if (anchor != 0) anchors_[anchor] = Copy(node, stack_.size());
    if (stack_.empty()) {
      root = std::move(node);
      return;
    }
    Frame& top = stack_.back();
    if (top.node.kind == YamlNode::Kind::kSequence) {
      top.node.items.push_back(std::move(node));
      return;
    }
    if (!top.key) {
      top.key = std::move(node);
      return;
    }
    YamlNode key = std::move(*top.key);
    top.key.reset();
    if (key.kind != YamlNode::Kind::kScalar) {
      Error(key.at, std::string("a key must be a string, not ") + KindName(key));
      return;
    }
    if (!key.quoted && key.text == "<<") {
      Error(key.at, "merge keys (<<) are not supported");
      return;
    }
    auto [first, inserted] = top.keys.emplace(key.text, key.at);
    if (!inserted) {
      Error(key.at, "duplicate key " + Quote(key.text) + " (first at line " +
                        std::to_string(first->second.line) + ")");
      return;
    }
    if (node.kind == YamlNode::Kind::kNull) node.at = key.at;
    top.node.entries.emplace_back(std::move(key), std::move(node));
  }

  const YamlLimits& limits_;
  std::vector<FileError>* errors_;
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, YamlNode> anchors_;
  size_t nodes_ = 0;
  size_t copied_bytes_ = 0;
  int documents_ = 0;
};

}  // namespace

std::optional<YamlNode> LoadYaml(std::string_view text, const YamlLimits& limits,
                                 std::vector<FileError>* errors) {
  if (text.size() > limits.max_bytes) {
    errors->push_back({{1, 1}, "the file is larger than " + std::to_string(limits.max_bytes) + " bytes"});
    return std::nullopt;
  }
  if (auto bad = CheckText(text)) {
    errors->push_back(*bad);
    return std::nullopt;
  }
  TreeBuilder builder(limits, errors);
  try {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const Stop& stop) {
    errors->push_back(stop.error);
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    SourceLocation at = At(e.mark);
    if (auto tab = IndentingTab(text, at.line)) errors->push_back(*tab);
    errors->push_back({at, "invalid YAML: " + e.msg});
    return std::nullopt;
  } catch (const std::exception& e) {  // std::bad_alloc, or a yaml-cpp bug
    errors->push_back({{1, 1}, std::string("cannot read the YAML: ") + e.what()});
    return std::nullopt;
  }
  if (!builder.root) {
    YamlNode empty;
    empty.at = {1, 1};
    return empty;
  }
  return std::move(builder.root);
}

}  // namespace slipway::pipelines
