// C API over Google Benchmark: see gbench_shim.h.
#include "gbench_shim.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace {

benchmark::State &S(bpm_state *st) { return *reinterpret_cast<benchmark::State *>(st); }
const benchmark::State &S(const bpm_state *st)
{
    return *reinterpret_cast<const benchmark::State *>(st);
}
benchmark::internal::Benchmark *B(bpm_bench *b)
{
    return reinterpret_cast<benchmark::internal::Benchmark *>(b);
}

class ShimReporter : public benchmark::ConsoleReporter {
  public:
    ShimReporter(bpm_result_fn cb, void *ctx) : cb_(cb), ctx_(ctx) {}
    void ReportRuns(const std::vector<Run> &reports) override
    {
        ConsoleReporter::ReportRuns(reports);
        if (!cb_)
            return;
        for (const Run &r : reports) {
            const std::string name = r.run_name.str();
            bpm_result res;
            res.name = name.c_str();
            res.aggregate_name = r.aggregate_name.c_str();
            res.error = r.error_occurred ? 1 : 0;
            res.iterations = static_cast<int64_t>(r.iterations);
            res.real_ns = r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit) * 1e9;
            res.cpu_ns = r.GetAdjustedCPUTime() / benchmark::GetTimeUnitMultiplier(r.time_unit) * 1e9;
            res.run_ = &r;
            cb_(&res, ctx_);
        }
    }

  private:
    bpm_result_fn cb_;
    void *ctx_;
};

} // namespace

extern "C" {

bpm_bench *bpm_register(const char *name, bpm_fn fn, void *ctx)
{
    auto *b = benchmark::RegisterBenchmark(
        name, [fn, ctx](benchmark::State &st) { fn(reinterpret_cast<bpm_state *>(&st), ctx); });
    return reinterpret_cast<bpm_bench *>(b);
}

bpm_bench *bpm_bench_args(bpm_bench *b, const int64_t *args, int n)
{
    B(b)->Args(std::vector<int64_t>(args, args + n));
    return b;
}

bpm_bench *bpm_bench_range(bpm_bench *b, int64_t lo, int64_t hi)
{
    B(b)->Range(lo, hi);
    return b;
}

bpm_bench *bpm_bench_min_time(bpm_bench *b, double seconds)
{
    B(b)->MinTime(seconds);
    return b;
}

bpm_bench *bpm_bench_unit_us(bpm_bench *b)
{
    B(b)->Unit(benchmark::kMicrosecond);
    return b;
}

int bpm_keep_running(bpm_state *st) { return S(st).KeepRunning() ? 1 : 0; }
int64_t bpm_arg(const bpm_state *st, int i) { return S(st).range(static_cast<std::size_t>(i)); }
int64_t bpm_iterations(const bpm_state *st) { return static_cast<int64_t>(S(st).iterations()); }
void bpm_pause(bpm_state *st) { S(st).PauseTiming(); }
void bpm_resume(bpm_state *st) { S(st).ResumeTiming(); }
void bpm_label(bpm_state *st, const char *label) { S(st).SetLabel(label); }
void bpm_skip_error(bpm_state *st, const char *msg) { S(st).SkipWithError(msg); }

void bpm_counter(bpm_state *st, const char *name, double value, unsigned flags)
{
    int f = benchmark::Counter::kDefaults;
    if (flags & BPM_COUNTER_RATE)
        f |= benchmark::Counter::kIsRate;
    if (flags & BPM_COUNTER_AVG_ITER)
        f |= benchmark::Counter::kAvgIterations;
    S(st).counters[name] = benchmark::Counter(value, static_cast<benchmark::Counter::Flags>(f));
}

double bpm_result_counter(const bpm_result *r, const char *name)
{
    const auto *run = static_cast<const benchmark::BenchmarkReporter::Run *>(r->run_);
    auto it = run->counters.find(name);
    return it == run->counters.end() ? std::nan("") : it->second.value;
}

int bpm_run(int *argc, char **argv, const char *default_filter, bpm_result_fn cb, void *ctx)
{
    bool has_filter = false;
    for (int i = 1; i < *argc; i++)
        if (std::strncmp(argv[i], "--benchmark_filter", 18) == 0)
            has_filter = true;
    benchmark::Initialize(argc, argv);
    if (benchmark::ReportUnrecognizedArguments(*argc, argv))
        return 1;
    ShimReporter rep(cb, ctx);
    if (!has_filter && default_filter)
        benchmark::RunSpecifiedBenchmarks(&rep, default_filter);
    else
        benchmark::RunSpecifiedBenchmarks(&rep);
    benchmark::Shutdown();
    return 0;
}

} // extern "C"
