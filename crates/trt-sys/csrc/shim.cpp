// rtseg's TensorRT shim: a flat C table (rtseg_trt.h) over the TensorRT runtime and builder APIs.
//
// TensorRT is not linked: `load` dlopens libnvinfer (or TensorRT-RTX's libtensorrt_rtx) and the
// ONNX parser and resolves their four extern "C" entry points; every other call in the headers is
// an inline wrapper over a virtual interface, so the shim needs headers at build time and the
// libraries only at run time. It uses only the API subset that TensorRT 8.5 to 11 and
// TensorRT-RTX share; the few differences are guarded by NV_TENSORRT_MAJOR.
//
// build.rs compiles this file once per flavour whose headers it finds, defining RTSEG_API_GETTER
// (the name of the table getter) and, for TensorRT-RTX, RTSEG_FLAVOUR_RTX with the nvinfer1 and
// nvonnxparser namespaces renamed, so that the two flavours' header-defined classes never share a
// symbol in one binary.

#include "rtseg_trt.h"

#include <NvInfer.h>
#include <NvOnnxParser.h>
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>

#ifndef RTSEG_API_GETTER
#error "build.rs defines RTSEG_API_GETTER"
#endif

namespace {

using namespace nvinfer1;

#ifdef RTSEG_FLAVOUR_RTX
constexpr char const* kFlavour = "tensorrt-rtx";
#else
constexpr char const* kFlavour = "tensorrt";
#endif

using CreateFn = void* (*)(void*, int32_t);
using ParserFn = void* (*)(void*, void*, int);
using VersionFn = int32_t (*)();

std::mutex g_load_lock;
void* g_infer = nullptr;
void* g_parser = nullptr;
VersionFn g_lib_version = nullptr;
CreateFn g_create_runtime = nullptr;
CreateFn g_create_builder = nullptr;
ParserFn g_create_parser = nullptr;
void (*g_log_callback)(int32_t, char const*) = nullptr;

// The last failure of this thread, and the errors TensorRT logged on it during the current call:
// without a CUDA driver some runtimes log an error and still return a (bogus) non-null object, so a
// call counts as failed when it logged an error, not only when it returned null.
thread_local std::string t_error;
thread_local std::string t_logged;
thread_local bool t_collecting = false;

int32_t fail(std::string message)
{
    t_error = std::move(message);
    return -1;
}

std::nullptr_t fail_null(std::string message)
{
    t_error = std::move(message);
    return nullptr;
}

class Logger final : public ILogger
{
public:
    void log(Severity severity, AsciiChar const* msg) noexcept override
    {
        try
        {
            if (t_collecting && severity <= Severity::kERROR)
            {
                if (!t_logged.empty())
                {
                    t_logged += "; ";
                }
                t_logged += msg;
            }
            if (auto callback = g_log_callback)
            {
                callback(static_cast<int32_t>(severity), msg);
            }
        }
        catch (...)
        {
        }
    }
};

Logger g_logger;

// Collects the errors TensorRT logs on this thread while it lives.
struct Collect
{
    Collect()
    {
        t_logged.clear();
        t_collecting = true;
    }
    ~Collect()
    {
        t_collecting = false;
    }
    bool failed() const
    {
        return !t_logged.empty();
    }
    std::string reason(char const* fallback) const
    {
        return t_logged.empty() ? std::string(fallback) : t_logged;
    }
};

// TensorRT 10+ numbers versions major*10000 + minor*100 + patch, TensorRT 8 major*1000 + ….
int32_t major_of(int32_t version)
{
    return version >= 10000 ? version / 10000 : version / 1000;
}

std::string version_text(int32_t version)
{
    int32_t const base = version >= 10000 ? 10000 : 1000;
    return std::to_string(version / base) + "." + std::to_string(version % base / 100) + "."
        + std::to_string(version % 100);
}

int32_t load(char const* infer_path, char const* parser_path, int32_t* lib_version) noexcept
{
    try
    {
        std::lock_guard<std::mutex> guard(g_load_lock);
        if (!g_infer)
        {
            void* handle = dlopen(infer_path, RTLD_NOW | RTLD_LOCAL);
            if (!handle)
            {
                char const* why = dlerror();
                return fail(std::string("cannot load ") + infer_path + ": " + (why ? why : "unknown error"));
            }
            auto version = reinterpret_cast<VersionFn>(dlsym(handle, "getInferLibVersion"));
            auto runtime = reinterpret_cast<CreateFn>(dlsym(handle, "createInferRuntime_INTERNAL"));
            if (!version || !runtime)
            {
                dlclose(handle);
                return fail(std::string(infer_path)
                    + " is not a TensorRT runtime library (no getInferLibVersion / createInferRuntime_INTERNAL)");
            }
            int32_t const found = version();
            if (major_of(found) != major_of(NV_TENSORRT_VERSION))
            {
                dlclose(handle);
                return fail(std::string(infer_path) + " is " + kFlavour + " " + version_text(found) + ", but rtseg was built against "
                    + kFlavour + " " + version_text(NV_TENSORRT_VERSION) + " headers; rebuild rtseg with the headers of "
                    + "the TensorRT on this machine (TENSORRT_INCLUDE_DIR)");
            }
            g_infer = handle;
            g_lib_version = version;
            g_create_runtime = runtime;
            // A lean runtime has no builder; build then reports it.
            g_create_builder = reinterpret_cast<CreateFn>(dlsym(handle, "createInferBuilder_INTERNAL"));
        }
        if (parser_path && !g_parser)
        {
            void* handle = dlopen(parser_path, RTLD_NOW | RTLD_LOCAL);
            if (!handle)
            {
                char const* why = dlerror();
                return fail(std::string("cannot load ") + parser_path + ": " + (why ? why : "unknown error"));
            }
            auto create = reinterpret_cast<ParserFn>(dlsym(handle, "createNvOnnxParser_INTERNAL"));
            if (!create)
            {
                dlclose(handle);
                return fail(std::string(parser_path) + " is not a TensorRT ONNX parser (no createNvOnnxParser_INTERNAL)");
            }
            g_parser = handle;
            g_create_parser = create;
        }
        *lib_version = g_lib_version();
        return 0;
    }
    catch (std::exception const& e)
    {
        return fail(e.what());
    }
    catch (...)
    {
        return fail("unknown C++ exception while loading TensorRT");
    }
}

char const* last_error() noexcept
{
    return t_error.c_str();
}

void set_log_callback(void (*callback)(int32_t, char const*)) noexcept
{
    g_log_callback = callback;
}

void* runtime_create() noexcept
{
    try
    {
        if (!g_create_runtime)
        {
            return fail_null("TensorRT is not loaded");
        }
        Collect collect;
        void* runtime = g_create_runtime(&g_logger, NV_TENSORRT_VERSION);
        if (!runtime || collect.failed())
        {
            // Never delete what a failed creation returned: it may not be an object.
            return fail_null("cannot create the TensorRT runtime: " + collect.reason("no runtime returned"));
        }
        return runtime;
    }
    catch (...)
    {
        return fail_null("unknown C++ exception creating the TensorRT runtime");
    }
}

void runtime_destroy(void* runtime) noexcept
{
    delete static_cast<IRuntime*>(runtime);
}

void* engine_deserialize(void* runtime, void const* plan, uint64_t len) noexcept
{
    try
    {
        Collect collect;
        ICudaEngine* engine = static_cast<IRuntime*>(runtime)->deserializeCudaEngine(plan, static_cast<std::size_t>(len));
        if (!engine || collect.failed())
        {
            delete engine;
            return fail_null("TensorRT cannot deserialize the engine: " + collect.reason("no engine returned"));
        }
        return engine;
    }
    catch (...)
    {
        return fail_null("unknown C++ exception deserializing an engine");
    }
}

void engine_destroy(void* engine) noexcept
{
    delete static_cast<ICudaEngine*>(engine);
}

int32_t engine_io_count(void* engine) noexcept
{
    return static_cast<ICudaEngine*>(engine)->getNbIOTensors();
}

char const* engine_io_name(void* engine, int32_t index) noexcept
{
    return static_cast<ICudaEngine*>(engine)->getIOTensorName(index);
}

int32_t engine_io_mode(void* engine, char const* name) noexcept
{
    return static_cast<int32_t>(static_cast<ICudaEngine*>(engine)->getTensorIOMode(name));
}

int32_t engine_io_dtype(void* engine, char const* name) noexcept
{
    return static_cast<int32_t>(static_cast<ICudaEngine*>(engine)->getTensorDataType(name));
}

int32_t copy_dims(Dims const& dims, int64_t* out, int32_t cap)
{
    if (dims.nbDims < 0)
    {
        return fail("no such tensor");
    }
    for (int32_t i = 0; i < dims.nbDims && i < cap; ++i)
    {
        out[i] = static_cast<int64_t>(dims.d[i]);
    }
    return dims.nbDims;
}

int32_t engine_io_shape(void* engine, char const* name, int64_t* dims, int32_t cap) noexcept
{
    return copy_dims(static_cast<ICudaEngine*>(engine)->getTensorShape(name), dims, cap);
}

int32_t engine_profile_count(void* engine) noexcept
{
    return static_cast<ICudaEngine*>(engine)->getNbOptimizationProfiles();
}

int32_t engine_profile_shape(
    void* engine, char const* name, int32_t profile, int32_t select, int64_t* dims, int32_t cap) noexcept
{
    auto const selector = static_cast<OptProfileSelector>(select);
    return copy_dims(static_cast<ICudaEngine*>(engine)->getProfileShape(name, profile, selector), dims, cap);
}

void* context_create(void* engine) noexcept
{
    try
    {
        Collect collect;
        IExecutionContext* context = static_cast<ICudaEngine*>(engine)->createExecutionContext();
        if (!context || collect.failed())
        {
            delete context;
            return fail_null("cannot create an execution context: " + collect.reason("none returned"));
        }
        return context;
    }
    catch (...)
    {
        return fail_null("unknown C++ exception creating an execution context");
    }
}

void context_destroy(void* context) noexcept
{
    delete static_cast<IExecutionContext*>(context);
}

Dims make_dims(int64_t const* dims, int32_t rank)
{
    Dims out{};
    out.nbDims = rank;
    for (int32_t i = 0; i < rank && i < Dims::MAX_DIMS; ++i)
    {
        // int64 in TensorRT 10+, int32 before.
        out.d[i] = static_cast<std::remove_reference_t<decltype(out.d[0])>>(dims[i]);
    }
    return out;
}

int32_t context_set_input_shape(void* context, char const* name, int64_t const* dims, int32_t rank) noexcept
{
    if (rank < 0 || rank > Dims::MAX_DIMS)
    {
        return fail("input rank out of range");
    }
    Collect collect;
    bool const ok = static_cast<IExecutionContext*>(context)->setInputShape(name, make_dims(dims, rank));
    return ok && !collect.failed() ? 0 : fail(std::string("input ") + name + ": " + collect.reason("shape refused"));
}

int32_t context_set_tensor_address(void* context, char const* name, void* address) noexcept
{
    Collect collect;
    bool const ok = static_cast<IExecutionContext*>(context)->setTensorAddress(name, address);
    return ok && !collect.failed() ? 0 : fail(std::string("tensor ") + name + ": " + collect.reason("address refused"));
}

int32_t context_enqueue(void* context, void* stream) noexcept
{
    Collect collect;
    bool const ok = static_cast<IExecutionContext*>(context)->enqueueV3(static_cast<cudaStream_t>(stream));
    return ok && !collect.failed() ? 0 : fail("enqueueV3 failed: " + collect.reason("no reason logged"));
}

#if NV_TENSORRT_MAJOR <= 10 && !defined(RTSEG_FLAVOUR_RTX)
// Implicit INT8 with entropy calibration exists up to TensorRT 10 (TensorRT 11 and TensorRT-RTX
// take INT8 only from Q/DQ nodes in the ONNX).
class Calibrator final : public IInt8EntropyCalibrator2
{
public:
    explicit Calibrator(RtsegCalibrator const& c)
        : mC(c)
    {
    }
    int32_t getBatchSize() const noexcept override
    {
        return mC.batch_size;
    }
    bool getBatch(void* bindings[], char const* names[], int32_t nbBindings) noexcept override
    {
        (void) names;
        void* device = nullptr;
        if (mC.next_batch(mC.user, &device) != 1 || nbBindings < 1)
        {
            return false;
        }
        bindings[0] = device;
        return true;
    }
    void const* readCalibrationCache(std::size_t& length) noexcept override
    {
        length = static_cast<std::size_t>(mC.cache_len);
        return mC.cache_len > 0 ? mC.cache : nullptr;
    }
    void writeCalibrationCache(void const* cache, std::size_t length) noexcept override
    {
        if (mC.write_cache)
        {
            mC.write_cache(mC.user, cache, static_cast<uint64_t>(length));
        }
    }

private:
    RtsegCalibrator const& mC;
};
#endif

int32_t copy_out(void const* data, std::size_t len, RtsegBuffer* out)
{
    out->data = std::malloc(len > 0 ? len : 1);
    if (!out->data)
    {
        return fail("out of host memory");
    }
    std::memcpy(out->data, data, len);
    out->len = len;
    return 0;
}

int32_t build(RtsegBuildParams const* p, RtsegBuffer* plan_out, RtsegBuffer* cache_out) noexcept
{
    try
    {
        plan_out->data = nullptr;
        plan_out->len = 0;
        cache_out->data = nullptr;
        cache_out->len = 0;
        if (!g_create_builder)
        {
            return fail("the loaded TensorRT library has no builder (a lean or dispatch runtime): build engines "
                        "where the full TensorRT is installed");
        }
        if (!g_create_parser)
        {
            return fail("no TensorRT ONNX parser library is loaded");
        }
        Collect collect;
        std::unique_ptr<IBuilder> builder(static_cast<IBuilder*>(g_create_builder(&g_logger, NV_TENSORRT_VERSION)));
        if (!builder || collect.failed())
        {
            (void) builder.release();
            return fail("cannot create the TensorRT builder: " + collect.reason("none returned"));
        }
#if NV_TENSORRT_MAJOR < 10 && !defined(RTSEG_FLAVOUR_RTX)
        uint32_t const flags = 1U << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kEXPLICIT_BATCH);
#else
        uint32_t const flags = 0;
#endif
        std::unique_ptr<INetworkDefinition> network(builder->createNetworkV2(flags));
        std::unique_ptr<nvonnxparser::IParser> parser(
            static_cast<nvonnxparser::IParser*>(g_create_parser(network.get(), &g_logger, NV_ONNX_PARSER_VERSION)));
        if (!network || !parser)
        {
            return fail("cannot create the network or the ONNX parser: " + collect.reason("none returned"));
        }
        if (!parser->parse(p->onnx, static_cast<std::size_t>(p->onnx_len)))
        {
            std::string errors;
            for (int i = 0; i < parser->getNbErrors(); ++i)
            {
                // The node index, not its name: nodeName() only exists from TensorRT 10.
                auto const* error = parser->getError(i);
                errors += (i ? "; " : "") + std::string("[node ") + std::to_string(error->node())
                    + "] " + error->desc();
            }
            return fail("the TensorRT ONNX parser rejected the model: " + errors);
        }
        std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
        config->setMemoryPoolLimit(MemoryPoolType::kWORKSPACE, static_cast<std::size_t>(p->workspace_bytes));
#if NV_TENSORRT_MAJOR <= 10 && !defined(RTSEG_FLAVOUR_RTX)
        std::unique_ptr<Calibrator> calibrator;
        if (p->fp16)
        {
            config->setFlag(BuilderFlag::kFP16);
        }
        if (p->int8)
        {
            config->setFlag(BuilderFlag::kINT8);
            if (p->calibrator)
            {
                calibrator.reset(new Calibrator(*p->calibrator));
                config->setInt8Calibrator(calibrator.get());
            }
        }
#else
        (void) p->fp16;
        if (p->int8 && p->calibrator)
        {
            return fail(std::string(kFlavour) + " " + version_text(NV_TENSORRT_VERSION)
                + " has no INT8 calibrator: export a Q/DQ model (rtseg export --int8-qdq) instead");
        }
#endif
        IOptimizationProfile* profile = builder->createOptimizationProfile();
        profile->setDimensions(p->input_name, OptProfileSelector::kMIN, make_dims(p->min_dims, p->rank));
        profile->setDimensions(p->input_name, OptProfileSelector::kOPT, make_dims(p->opt_dims, p->rank));
        profile->setDimensions(p->input_name, OptProfileSelector::kMAX, make_dims(p->max_dims, p->rank));
        if (config->addOptimizationProfile(profile) < 0)
        {
            return fail("the optimisation profile was refused: " + collect.reason("invalid dimensions"));
        }
        std::unique_ptr<ITimingCache> timing(config->createTimingCache(p->timing_cache, static_cast<std::size_t>(p->timing_cache_len)));
        if (timing)
        {
            config->setTimingCache(*timing, false);
        }
        std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*network, *config));
        if (!plan || plan->size() == 0)
        {
            return fail("TensorRT could not build the engine: " + collect.reason("no plan returned"));
        }
        if (copy_out(plan->data(), plan->size(), plan_out) != 0)
        {
            return -1;
        }
        if (ITimingCache const* used = config->getTimingCache())
        {
            std::unique_ptr<IHostMemory> blob(used->serialize());
            if (blob && copy_out(blob->data(), blob->size(), cache_out) != 0)
            {
                return -1;
            }
        }
        return 0;
    }
    catch (std::exception const& e)
    {
        return fail(std::string("C++ exception while building: ") + e.what());
    }
    catch (...)
    {
        return fail("unknown C++ exception while building");
    }
}

void buffer_free(RtsegBuffer* buffer) noexcept
{
    std::free(buffer->data);
    buffer->data = nullptr;
    buffer->len = 0;
}

} // namespace

extern "C" __attribute__((visibility("default"))) RtsegTrtApi const* RTSEG_API_GETTER(void)
{
    static RtsegTrtApi const api = {
        RTSEG_TRT_ABI,
        static_cast<int32_t>(NV_TENSORRT_VERSION),
        kFlavour,
        load,
        last_error,
        set_log_callback,
        runtime_create,
        runtime_destroy,
        engine_deserialize,
        engine_destroy,
        engine_io_count,
        engine_io_name,
        engine_io_mode,
        engine_io_dtype,
        engine_io_shape,
        engine_profile_count,
        engine_profile_shape,
        context_create,
        context_destroy,
        context_set_input_shape,
        context_set_tensor_address,
        context_enqueue,
        build,
        buffer_free,
    };
    return &api;
}
