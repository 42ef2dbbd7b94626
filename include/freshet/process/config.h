// Functions declared in YAML: the file `freshet serve --functions FILE` reads, and the
// `functions:` section of a pipeline file (issue 15 calls parse_functions with that node).
//
//   functions:
//     - name: tweets-extract            # Lambda's function name: [A-Za-z0-9_-]{1,64}
//       kind: extract                   # extract | filter | window_count | exec
//       description: tweets into the tweets table
//       memory: 128                     # MB (Lambda's MemorySize; exec: RLIMIT_DATA)
//       timeout: 3                      # seconds per invocation
//       sink: {table: tweets, key: {hash: id, hash_type: S}}   # or {stream: NAME} / {delivery: NAME}
//       fields:                         # extract
//         - {name: id, path: id_str, type: S, required: true}
//         - {name: lang, path: lang, default: und}
//         - {name: hashtags, path: "entities.hashtags[*].text", type: SS}
//       patterns:                       # filter: FilterCriteria patterns (YAML maps or JSON text)
//         - {data: {lang: [en]}}
//       counts:                         # window_count
//         - {name: hashtags, path: "entities.hashtags[*].text"}
//       runtime: python                 # exec: python | node, with handler: module.function
//       handler: handler.handler
//       dir: ./functions                # exec: working directory (relative to the file)
//       command: [./worker, --flag]     # exec without runtime: a program speaking the protocol
//       environment: {KEY: value}
//
// Every error names the function and the key, so a user can fix the file.
#pragma once

#include <string>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/process/function.h"

namespace YAML {
class Node;
}

namespace freshet::process {

// Parses a `functions:` sequence. Relative `dir:` paths are resolved against base_dir (the
// directory of the file). Checks each function as make_function would (paths, patterns,
// handler names) and rejects duplicate names. kInvalidArgument with the reason.
Result<std::vector<FunctionConfig>> parse_functions(const YAML::Node& functions,
                                                    const std::string& base_dir);
// Reads a file whose top level holds `functions:` (what `freshet serve --functions` takes).
Result<std::vector<FunctionConfig>> load_functions_file(const std::string& path);

}  // namespace freshet::process
