// The pipeline file of issue 12, as written there: it must keep parsing,
// with these meanings.
#pragma once

namespace slipway::pipelines::testing {

inline constexpr char kIssueExample[] =
    R"(build:                      # optional: build the repo's image first (engine/build)
  dockerfile: Dockerfile
  context: .
  args: {VERSION: "1"}
services:
  - name: db
    image: postgres-like:1
    commands: ["start-db --port 5432"]
    env: {MODE: test}
    ready: {tcp: 5432, timeout: 30s}      # or ready: {command: "pg_isready", timeout: 30s}
steps:
  - name: unit
    image: app:1              # default: the image from build
    commands: ["make test"]
    env: {CI: "true"}
    secrets: [NPM_TOKEN]
    timeout: 10m
    memory: 512m
    cpus: 1
    pids: 256
  - name: lint
    commands: ["make lint"]
    depends_on: []           # starts at once, in parallel with unit
    when: {branch: ["main", "release/*"], event: [push, tag, manual]}
reports: ["out/junit.xml"]   # read by the test-results issue
promote:                      # read by the promotion issue
  to: 127.0.0.1:5000/team/app
  tags: ["{sha}", "{branch}", latest]
  branches: [main]
)";

}  // namespace slipway::pipelines::testing
