// exec: a function run by a long-lived worker process (see ExecSpec in function.h).
//
// The worker is started on the first invoke (fork + execve; the child sets RLIMIT_DATA to the
// function's memory, dies with the server through PR_SET_PDEATHSIG, closes every inherited
// descriptor but its three pipes). Each invoke writes one request line and waits for one
// answer line, reading stderr (the log) meanwhile, all through poll() with the function's
// timeout: a worker that does not answer in time is killed (SIGKILL) and restarted on the
// next invoke, as Lambda does with a timed-out execution environment.
//
// Threads: an ExecFunction is used by one thread at a time (function.h); it owns its worker.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simdjson.h>

#include <chrono>
#include <cstring>
#include <random>

#include "builtins.h"
#include "freshet/common/clock.h"
#include "json_util.h"

extern char** environ;

namespace freshet::process {
namespace {

// Lambda-style bootstraps. Protocol: docs/process.md.
constexpr const char* kPythonBootstrap = R"PY(
import importlib, json, os, sys, time, traceback
proto = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr
sys.path.insert(0, os.getcwd())
mod_name, _, fn_name = sys.argv[1].rpartition(".")
class Context:
    pass
def err(e):
    return {"error": {"errorType": type(e).__name__, "errorMessage": str(e),
                      "stackTrace": traceback.format_tb(e.__traceback__)}}
try:
    handler = getattr(importlib.import_module(mod_name), fn_name)
    init_error = None
except Exception as e:
    handler, init_error = None, e
    traceback.print_exc()
for line in sys.stdin:
    req = json.loads(line)
    if init_error is not None:
        out = err(init_error)
    else:
        ctx = Context()
        ctx.aws_request_id = req["id"]
        ctx.function_name = req["function_name"]
        ctx.memory_limit_in_mb = req["memory_mb"]
        ctx.function_version = "$LATEST"
        ctx.invoked_function_arn = req.get("function_arn", "")
        deadline = req["deadline_ms"]
        ctx.get_remaining_time_in_millis = lambda: max(0, int(deadline - time.time() * 1000))
        try:
            out = {"ok": handler(req["event"], ctx)}
            json.dumps(out)
        except Exception as e:
            traceback.print_exc()
            out = err(e)
    sys.stderr.flush()
    proto.write(json.dumps(out) + "\n")
    proto.flush()
)PY";

constexpr const char* kNodeBootstrap = R"JS(
const fs = require('fs'); const path = require('path'); const readline = require('readline');
console.log = console.error; console.info = console.error; console.debug = console.error;
const spec = process.argv[process.argv.length - 1];
const dot = spec.lastIndexOf('.');
let handler = null, initError = null;
try {
  const mod = require(path.resolve(process.cwd(), spec.slice(0, dot)));
  handler = mod[spec.slice(dot + 1)];
  if (typeof handler !== 'function') throw new Error('handler ' + spec + ' is not a function');
} catch (e) { initError = e; console.error(e); }
const err = (e) => ({error: {errorType: (e && e.name) || 'Error', errorMessage: String(e && e.message || e),
                             stackTrace: String(e && e.stack || '').split('\n')}});
const rl = readline.createInterface({input: process.stdin, terminal: false});
let chain = Promise.resolve();
rl.on('line', (line) => { chain = chain.then(async () => {
  const req = JSON.parse(line);
  let out;
  if (initError) out = err(initError);
  else {
    const ctx = {awsRequestId: req.id, functionName: req.function_name, memoryLimitInMB: String(req.memory_mb),
                 functionVersion: '$LATEST', invokedFunctionArn: req.function_arn || '',
                 getRemainingTimeInMillis: () => Math.max(0, req.deadline_ms - Date.now())};
    try { const r = await handler(req.event, ctx); out = {ok: r === undefined ? null : r}; }
    catch (e) { console.error(e); out = err(e); }
  }
  fs.writeSync(1, JSON.stringify(out) + '\n');
}); });
)JS";

constexpr size_t kMaxLogBytes = 256 * 1024;   // per invocation, the tail kept
constexpr size_t kMaxAnswerBytes = 64 << 20;  // an answer line larger than this fails

std::string random_id() {
  std::random_device rd;
  std::mt19937_64 g(rd());
  const uint64_t a = g(), b = g();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-a%03x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>(a & 0xffff), static_cast<unsigned>((a >> 16) & 0xfff),
                static_cast<unsigned>(b >> 52), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

// Resolves a program name through PATH (before fork: execve does no search).
std::string resolve_program(const std::string& prog) {
  if (prog.find('/') != std::string::npos) return prog;
  const char* path = std::getenv("PATH");
  std::string p = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string cand = p.substr(start, end - start) + "/" + prog;
    if (::access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return prog;
}

// write() to a pipe whose reader is gone raises SIGPIPE, which would end the server: block it
// in this thread for the write and take a pending one away before unblocking.
ssize_t write_no_sigpipe(int fd, const char* data, size_t n) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  const ssize_t k = ::write(fd, data, n);
  const int saved = errno;
  if (k < 0 && saved == EPIPE) {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return k;
}

class ExecFunction : public Function {
 public:
  explicit ExecFunction(FunctionConfig c) : c_(std::move(c)) {}
  ~ExecFunction() override { kill_worker(); }

  InvokeResult invoke(const Batch& batch) override {
    const std::string event = encode_kinesis_event(batch, "");
    InvokeResult r = call(event);
    if (r.function_error.empty()) {
      if (Status s = decode_kinesis_response(r.payload, batch, r); !s.ok()) {
        r.function_error = "Unhandled";
        r.error_message = s.error().message();
      }
    }
    return r;
  }

  InvokeResult invoke_payload(std::string_view payload) override {
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    if (parser.parse(payload.data(), payload.size()).get(e) != simdjson::SUCCESS) {
      InvokeResult r;
      r.function_error = "Unhandled";
      r.error_message = "Could not parse request body into json";
      r.payload = "{\"errorMessage\":\"Could not parse request body into json\","
                  "\"errorType\":\"Runtime.UserCodeSyntaxError\"}";
      return r;
    }
    return call(simdjson::minify(e));
  }

 private:
  Status start_worker() {
    std::vector<std::string> argv;
    if (c_.exec.runtime == "python") {
      argv = {resolve_program("python3"), "-c", kPythonBootstrap, c_.exec.handler};
    } else if (c_.exec.runtime == "node") {
      argv = {resolve_program("node"), "-e", kNodeBootstrap, c_.exec.handler};
    } else {
      if (c_.exec.command.empty()) return Error(ErrorCode::kInvalidArgument, "no command");
      argv = c_.exec.command;
      argv[0] = resolve_program(argv[0]);
    }
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    env.push_back("AWS_LAMBDA_FUNCTION_NAME=" + c_.name);
    env.push_back("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + std::to_string(c_.memory_mb));
    env.push_back("AWS_LAMBDA_FUNCTION_VERSION=$LATEST");
    env.push_back("PYTHONUNBUFFERED=1");
    for (const auto& [k, v] : c_.exec.environment) env.push_back(k + "=" + v);
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& a : env) cenv.push_back(a.data());
    cenv.push_back(nullptr);
    const std::string dir = c_.exec.working_dir;
    const rlim_t limit = static_cast<rlim_t>(c_.memory_mb) << 20;

    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return errno_error(errno, "pipe");
    if (::pipe2(out, O_CLOEXEC) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      return errno_error(errno, "pipe");
    }
    if (::pipe2(err, O_CLOEXEC) != 0) {
      for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
      return errno_error(errno, "pipe");
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) ::close(fd);
      return errno_error(errno, "fork");
    }
    if (pid == 0) {
      // Child: only async-signal-safe calls until execve.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      sigset_t none;  // the server blocks SIGINT/SIGTERM (and SIGPIPE around writes)
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      ::syscall(SYS_close_range, 3U, ~0U, 0U);
      struct rlimit rl {limit, limit};
      ::setrlimit(RLIMIT_DATA, &rl);
      if (!dir.empty() && ::chdir(dir.c_str()) != 0) ::_exit(126);
      ::execve(cargv[0], cargv.data(), cenv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    pid_ = pid;
    in_ = in[1];
    out_ = out[0];
    err_ = err[0];
    for (int fd : {in_, out_, err_}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    pending_out_.clear();
    return {};
  }

  void kill_worker() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    for (int fd : {in_, out_, err_}) ::close(fd);
    pid_ = -1;
    in_ = out_ = err_ = -1;
  }

  // Why the worker ended (after EOF on its stdout).
  std::string reap() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    for (int fd : {in_, out_, err_}) ::close(fd);
    pid_ = -1;
    in_ = out_ = err_ = -1;
    if (WIFSIGNALED(status)) return "signal: " + std::string(strsignal(WTERMSIG(status)));
    return "exit status " + std::to_string(WEXITSTATUS(status));
  }

  void append_log(std::string& log, const char* data, size_t n) {
    log.append(data, n);
    if (log.size() > kMaxLogBytes) log.erase(0, log.size() - kMaxLogBytes);
  }

  uint64_t peak_rss_kb() const {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(pid_));
    FILE* f = std::fopen(path, "r");
    if (f == nullptr) return 0;
    char line[256];
    uint64_t kb = 0;
    while (std::fgets(line, sizeof line, f) != nullptr) {
      if (std::strncmp(line, "VmHWM:", 6) == 0) {
        kb = std::strtoull(line + 6, nullptr, 10);
        break;
      }
    }
    std::fclose(f);
    return kb;
  }

  InvokeResult call(const std::string& event) {
    InvokeResult r;
    auto fail = [&r](std::string type, std::string message) {
      r.function_error = "Unhandled";
      r.error_message = message;
      r.payload = "{\"errorMessage\":";
      append_json_string(r.payload, message);
      r.payload += ",\"errorType\":";
      append_json_string(r.payload, type);
      r.payload += "}";
    };
    if (pid_ <= 0) {
      if (Status s = start_worker(); !s.ok()) {
        fail("Runtime.InvalidEntrypoint", s.error().message());
        return r;
      }
    }
    const int64_t start = wall_clock_ms();
    const int64_t deadline = start + static_cast<int64_t>(c_.timeout_s) * 1000;
    std::string req = "{\"id\":\"" + random_id() + "\",\"deadline_ms\":" +
                      std::to_string(deadline) + ",\"function_name\":";
    append_json_string(req, c_.name);
    req += ",\"memory_mb\":" + std::to_string(c_.memory_mb) + ",\"event\":";
    req += event;
    req += "}\n";
    size_t written = 0;
    std::string answer;
    bool have_answer = false;
    char buf[65536];
    while (!have_answer) {
      const int64_t left = deadline - wall_clock_ms();
      if (left <= 0) {
        kill_worker();
        char msg[96];
        std::snprintf(msg, sizeof msg, "Task timed out after %d.00 seconds", c_.timeout_s);
        fail("Sandbox.Timedout", msg);
        append_log(r.log, msg, std::strlen(msg));
        r.log += "\n";
        return r;
      }
      pollfd fds[3];
      int n = 0;
      const bool want_write = written < req.size();
      fds[n++] = {out_, POLLIN, 0};
      fds[n++] = {err_, POLLIN, 0};
      if (want_write) fds[n++] = {in_, POLLOUT, 0};
      const int rc = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(std::min<int64_t>(left, 1000)));
      if (rc < 0 && errno != EINTR) {
        kill_worker();
        fail("Runtime.ExitError", "poll failed");
        return r;
      }
      if (fds[1].revents & (POLLIN | POLLHUP)) {
        ssize_t k;
        while ((k = ::read(err_, buf, sizeof buf)) > 0) append_log(r.log, buf, static_cast<size_t>(k));
      }
      if (want_write && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
        const ssize_t k = write_no_sigpipe(in_, req.data() + written, req.size() - written);
        if (k > 0) {
          written += static_cast<size_t>(k);
        } else if (k < 0 && errno != EAGAIN && errno != EINTR) {
          written = req.size();  // the worker is gone: its stdout says so below
        }
      }
      if (fds[0].revents & (POLLIN | POLLHUP)) {
        ssize_t k;
        bool eof = false;
        while (true) {
          k = ::read(out_, buf, sizeof buf);
          if (k > 0) {
            pending_out_.append(buf, static_cast<size_t>(k));
            continue;
          }
          if (k == 0) eof = true;
          break;
        }
        const size_t nl = pending_out_.find('\n');
        if (nl != std::string::npos) {
          answer = pending_out_.substr(0, nl);
          pending_out_.erase(0, nl + 1);
          have_answer = true;
        } else if (pending_out_.size() > kMaxAnswerBytes) {
          kill_worker();
          fail("Runtime.ExitError", "the worker's answer is larger than 64 MiB");
          return r;
        } else if (eof) {
          ssize_t e;
          while ((e = ::read(err_, buf, sizeof buf)) > 0) append_log(r.log, buf, static_cast<size_t>(e));
          const std::string why = reap();
          fail("Runtime.ExitError", "RequestId: worker exited before answering: Runtime exited with error: " + why);
          return r;
        }
      }
    }
    {
      ssize_t k;
      while ((k = ::read(err_, buf, sizeof buf)) > 0) append_log(r.log, buf, static_cast<size_t>(k));
    }
    r.max_memory_kb = peak_rss_kb();
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(answer).get(root) != simdjson::SUCCESS) {
      kill_worker();
      fail("Runtime.InvalidResponse", "the worker answered a line that is not JSON");
      return r;
    }
    simdjson::dom::element ok, error;
    if (root["ok"].get(ok) == simdjson::SUCCESS) {
      r.payload = ok.type() == simdjson::dom::element_type::NULL_VALUE ? "null" : simdjson::minify(ok);
      return r;
    }
    if (root["error"].get(error) == simdjson::SUCCESS) {
      std::string_view type = "Error", message;
      if (error["errorType"].get_string().get(type)) {
      }
      if (error["errorMessage"].get_string().get(message)) {
      }
      r.function_error = "Unhandled";
      r.error_message = std::string(type) + ": " + std::string(message);
      r.payload = simdjson::minify(error);
      return r;
    }
    fail("Runtime.InvalidResponse", "the worker's answer has neither ok nor error");
    return r;
  }

  FunctionConfig c_;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string pending_out_;
};

}  // namespace

Result<std::unique_ptr<Function>> make_exec(const FunctionConfig& c) {
  if (c.exec.runtime == "python" || c.exec.runtime == "node") {
    if (c.exec.handler.find('.') == std::string::npos) {
      return Error(ErrorCode::kInvalidArgument,
                   "function " + c.name + ": handler must be module.function");
    }
  } else if (!c.exec.runtime.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "function " + c.name + ": runtime must be python or node (or a command)");
  } else if (c.exec.command.empty()) {
    return Error(ErrorCode::kInvalidArgument, "function " + c.name + ": exec needs a command");
  }
  if (c.memory_mb < 128 || c.memory_mb > 10240 || c.timeout_s < 1 || c.timeout_s > 900) {
    return Error(ErrorCode::kInvalidArgument,
                 "function " + c.name + ": memory 128-10240 MB, timeout 1-900 s");
  }
  return std::unique_ptr<Function>(new ExecFunction(c));
}

}  // namespace freshet::process
