// Provenance of a promoted image: what vouches for it, as an in-toto
// Statement v1 whose predicate is SLSA Provenance v1, wrapped in a DSSE
// envelope signed with slipwayd's Ed25519 key (signing_key.h). Attached to
// the image in the registry (ImagePublisher::Attach) and checked by
// `slipway verify`. docs/promotion.md shows a statement.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"
#include "pipelines/run_record.h"

namespace slipway::pipelines {

// DSSE: the envelope's media type (the artifact's one layer), the payload's
// type, and the artifact type of the manifest that carries it.
inline constexpr char kDsseMediaType[] = "application/vnd.dsse.envelope.v1+json";
inline constexpr char kInTotoPayloadType[] = "application/vnd.in-toto+json";
inline constexpr char kProvenanceArtifactType[] = "application/vnd.in-toto+json";
inline constexpr char kSlsaPredicateType[] = "https://slsa.dev/provenance/v1";

// What the statement says.
struct ProvenanceFacts {
  std::string image;            // the target repository: "127.0.0.1:5000/team/app"
  std::string manifest_digest;  // the subject: "sha256:<hex>"
  std::vector<std::string> tags;
  std::string builder_id;  // slipwayd's public URL
  Run run;                 // repository, commit, branch or tag, event, id, pipeline digest, tests, times
  std::string repo_url;    // where the commit came from
  std::vector<StepRecord> steps;  // their names, statuses, exit codes, durations
};

// The in-toto statement (JSON, compact).
std::string ProvenanceStatement(const ProvenanceFacts& facts);

// DSSE's pre-authentication encoding of (type, body): what is signed.
std::string DssePae(std::string_view payload_type, std::string_view payload);

// A verified statement: what `slipway verify` prints.
struct VerifiedProvenance {
  std::string key_id;           // of the key that signed it
  std::string statement;        // the payload, JSON
  std::string subject_digest;   // the statement's subject
  int64_t run_id = 0;
  std::string repo, commit, branch, tag, pipeline_digest;
  TestCounts tests;
  std::vector<std::pair<std::string, std::string>> steps;  // (name, status)
};

// Checks a DSSE envelope: its payload type, an Ed25519 signature by
// `public_key_pem` over DssePae(type, payload), and that the statement is an
// in-toto Statement v1 with the SLSA predicate whose subject is
// `expected_subject` ("sha256:<hex>"; "" checks none). kPermissionDenied for
// a signature that does not verify (tampered, or another key);
// kInvalidArgument for a malformed envelope or statement.
Result<VerifiedProvenance> VerifyProvenance(std::string_view envelope_json, std::string_view public_key_pem,
                                            std::string_view expected_subject);

}  // namespace slipway::pipelines
