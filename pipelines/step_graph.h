// The order of a pipeline's steps: each step waits for the steps it needs
// (`depends_on`, or by default the step before it), and steps that do not
// wait for each other may run in parallel.
//
// A graph is given as `needs`: for each step (by index), the indices of the
// steps it waits for.
#pragma once

#include <cstddef>
#include <vector>

namespace slipway::pipelines {

using StepNeeds = std::vector<std::vector<size_t>>;

// One cycle per group of steps that wait for each other (a strongly
// connected component, or a step that needs itself), each as the steps in
// the order they wait: {a, b} means a needs b and b needs a. Cycles are
// ordered by their first step, and start at their lowest index. Empty for a
// graph without cycles (a DAG).
std::vector<std::vector<size_t>> FindCycles(const StepNeeds& needs);

// Every step once, each after every step it needs; among steps that are
// ready together, the one written first comes first. Requires a DAG
// (FindCycles empty); steps on a cycle are left out.
std::vector<size_t> ExecutionOrder(const StepNeeds& needs);

}  // namespace slipway::pipelines
