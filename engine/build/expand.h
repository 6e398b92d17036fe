// Variable expansion in Dockerfile words, as Docker's shell lexer
// (buildkit frontend/dockerfile/shell) does it. Pure: variables come from the
// caller's lookup.
//
// Which instructions expand at all (ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL
// USER VOLUME WORKDIR, ARG defaults, some flags) is dockerfile.h's
// ExpandsVariables(); RUN, CMD and ENTRYPOINT are left to the shell.
//
// Grammar of a word (escape is `\`, or `` ` `` under `# escape=``):
//   $NAME, ${NAME}      the value; an unset variable expands to "". NAME is
//                       [A-Za-z_][A-Za-z0-9_]*, or a run of digits ($1), or one
//                       of the special parameters @ * # ? - $ ! 0 (always
//                       unset in a Dockerfile). `$` before anything else is a
//                       literal `$`.
//   ${NAME:-word}       word if NAME is unset or empty, else the value
//   ${NAME-word}        word if NAME is unset, else the value (even "")
//   ${NAME:+word}       word if NAME is set and not empty, else ""
//   ${NAME+word}        word if NAME is set (even to ""), else ""
//   ${NAME:?msg}        the value; an error (msg, or "is not allowed to be
//   ${NAME?msg}         unset/empty") if NAME is unset (or empty, with ':')
//   ${NAME#pat} ${NAME##pat}  the value without its shortest/longest prefix
//   ${NAME%pat} ${NAME%%pat}  / suffix matching pat (`*` any string, `?` any
//                       character, escape makes the next character literal)
//   ${NAME/pat/repl}    the first (`//`: every) longest match of pat replaced
//                       by repl (empty matches are never replaced)
//   The word inside ${...} is itself expanded, and may be quoted.
//   'text'              literal, no expansion, no escapes
//   "text"              expansion happens; escape + one of `"` `$` escape
//                       gives that character, any other escape stays as is
//   escape + c          c, literally (outside quotes); a trailing escape is
//                       dropped
// Errors (kInvalidArgument, "failed to process \"<word>\": <why>"): an
// unterminated quote or ${, ${} and other bad substitutions, an unsupported
// modifier (${NAME:3}), a failed ${NAME?}.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"

namespace slipway {

// A variable's value, or nullopt if it is unset (not the same as "" for
// ${NAME-word} and ${NAME+word}).
using VarLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Expands one word into one string: quotes are removed, whitespace is kept,
// nothing is split. What ENV and LABEL values, WORKDIR, USER, COPY sources
// and destinations, flag values and FROM lines use.
Result<std::string> Expand(std::string_view word, const VarLookup& lookup, char escape = '\\');

// A heredoc's body (COPY <<EOF without quotes around EOF), as BuildKit
// expands it: $NAME and ${...} are expanded; quotes are ordinary
// characters; escape + `$` gives a literal `$`, other escapes stay as they are.
Result<std::string> ExpandHeredoc(std::string_view text, const VarLookup& lookup, char escape = '\\');

// Expands, then splits into words at whitespace that was neither quoted nor
// escaped (whitespace inside an expanded value does split, as in a shell).
// Empty words are dropped. What EXPOSE uses.
Result<std::vector<std::string>> ExpandWords(std::string_view text, const VarLookup& lookup,
                                             char escape = '\\');

}  // namespace slipway
