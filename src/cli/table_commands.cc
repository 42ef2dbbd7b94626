#include "table_commands.h"

#include <iostream>

#include "freshet/table/inspect.h"

namespace freshet::cli {

void add_table_commands(CLI::App& app, int* exit_code) {
  auto dir = std::make_shared<std::string>();
  CLI::App* t = app.add_subcommand("table", "Inspect table stores offline (no server needed)");
  t->require_subcommand(1);
  auto run = [dir, exit_code](bool dump) {
    auto r = table::inspect_tables(*dir, dump, [](std::string_view line) {
      std::cout << line << "\n";
    });
    if (!r.ok()) {
      std::cerr << "freshet table " << (dump ? "dump" : "verify") << ": " << r.error().to_string()
                << "\n";
      *exit_code = 2;
      return;
    }
    if (!dump) {
      std::cout << "tables=" << r->tables << " items=" << r->items
                << " index_entries=" << r->index_entries << "\n";
    }
    for (const auto& p : r->problems) std::cout << "DAMAGE: " << p << "\n";
    if (!dump) std::cout << (r->problems.empty() ? "OK" : "DAMAGED") << "\n";
    *exit_code = r->problems.empty() ? 0 : 1;
  };
  CLI::App* dump = t->add_subcommand("dump", "Print every table and item (DynamoDB JSON)");
  dump->add_option("DIR", *dir, "A table store directory (<data-dir>/tables)")->required();
  dump->callback([run] { run(true); });
  CLI::App* verify = t->add_subcommand(
      "verify", "Check every item's CRC and key, index entries and statistics; exit 1 on damage");
  verify->add_option("DIR", *dir, "A table store directory (<data-dir>/tables)")->required();
  verify->callback([run] { run(false); });
}

}  // namespace freshet::cli
