#include "pipelines/step_graph.h"

#include <algorithm>
#include <functional>
#include <queue>

namespace slipway::pipelines {

std::vector<std::vector<size_t>> FindCycles(const StepNeeds& needs) {
  // Tarjan's algorithm, iterative: a pipeline file can hold thousands of
  // steps, and the stack of a recursive walk would grow with them.
  const size_t n = needs.size();
  constexpr size_t kUnseen = static_cast<size_t>(-1);
  std::vector<size_t> index(n, kUnseen), low(n, 0), component(n, kUnseen);
  std::vector<bool> on_stack(n, false);
  std::vector<size_t> stack;
  size_t next_index = 0, components = 0;
  struct Visit {
    size_t step;
    size_t edge;
  };
  for (size_t root = 0; root < n; ++root) {
    if (index[root] != kUnseen) continue;
    std::vector<Visit> walk{{root, 0}};
    index[root] = low[root] = next_index++;
    stack.push_back(root);
    on_stack[root] = true;
    while (!walk.empty()) {
      Visit& v = walk.back();
      if (v.edge < needs[v.step].size()) {
        size_t w = needs[v.step][v.edge++];
        if (w >= n) continue;
        if (index[w] == kUnseen) {
          index[w] = low[w] = next_index++;
          stack.push_back(w);
          on_stack[w] = true;
          walk.push_back({w, 0});
        } else if (on_stack[w]) {
          low[v.step] = std::min(low[v.step], index[w]);
        }
        continue;
      }
      size_t step = v.step;
      walk.pop_back();
      if (!walk.empty()) low[walk.back().step] = std::min(low[walk.back().step], low[step]);
      if (low[step] != index[step]) continue;
      size_t w;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[w] = false;
        component[w] = components;
      } while (w != step);
      ++components;
    }
  }
  // In each component with a cycle, follow needs inside the component from
  // its first step until a step repeats: that walk closes a cycle.
  std::vector<std::vector<size_t>> cycles;
  std::vector<bool> reported(components, false);
  std::vector<size_t> position(n, kUnseen);  // on the walk: where; reset after each walk
  for (size_t s = 0; s < n; ++s) {
    size_t c = component[s];
    if (reported[c]) continue;
    auto inside = [&](size_t from) -> size_t {
      for (size_t w : needs[from]) {
        if (w < n && component[w] == c) return w;
      }
      return kUnseen;
    };
    size_t next = inside(s);
    if (next == kUnseen) continue;  // alone, and does not need itself
    reported[c] = true;
    std::vector<size_t> path{s};
    position[s] = 0;
    while (position[next] == kUnseen) {
      position[next] = path.size();
      path.push_back(next);
      next = inside(next);
    }
    std::vector<size_t> cycle(path.begin() + position[next], path.end());
    for (size_t p : path) position[p] = kUnseen;
    std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
    cycles.push_back(std::move(cycle));
  }
  return cycles;
}

std::vector<size_t> ExecutionOrder(const StepNeeds& needs) {
  const size_t n = needs.size();
  std::vector<size_t> waiting(n, 0);
  std::vector<std::vector<size_t>> needed_by(n);
  for (size_t s = 0; s < n; ++s) {
    for (size_t w : needs[s]) {
      if (w >= n) continue;
      ++waiting[s];
      needed_by[w].push_back(s);
    }
  }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  for (size_t s = 0; s < n; ++s) {
    if (waiting[s] == 0) ready.push(s);
  }
  std::vector<size_t> order;
  while (!ready.empty()) {
    size_t s = ready.top();
    ready.pop();
    order.push_back(s);
    for (size_t t : needed_by[s]) {
      if (--waiting[t] == 0) ready.push(t);
    }
  }
  return order;
}

}  // namespace slipway::pipelines
