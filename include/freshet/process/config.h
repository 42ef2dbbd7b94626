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
#include "freshet/process/service.h"

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

// Parses a `mappings:` sequence: the event source mappings a worker process runs
// (`freshet process --config FILE`), each with the uuid every worker of it shares:
//   mappings:
//     - uuid: tweets-extract        # the lease and checkpoint identity (any text)
//       function: extract
//       source: arn:aws:kinesis:us-east-1:000000000000:stream/tweets
//       batch_size: 500             # and batching_window, starting_position (TRIM_HORIZON |
//                                   # LATEST), parallelization_factor, maximum_retry_attempts,
//                                   # maximum_record_age, bisect, report_batch_item_failures,
//                                   # on_failure, tumbling_window, filters, enabled
// Checked with validate_mapping; kInvalidArgument naming the mapping and the key.
Result<std::vector<Mapping>> parse_mappings(const YAML::Node& mappings);

}  // namespace freshet::process
