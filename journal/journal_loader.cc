#include "journal/journal_loader.h"

#include "common/module_loader.h"

namespace ember::journal {

Result<std::unique_ptr<JournalSource>> OpenJournalModule(const std::string& component,
                                                         const JournalOpenRequest& request) {
  Result<ModuleHandle> module = LoadModule(ModulePath(component, "ember-journal.so"));
  if (!module.ok()) return module.status();
  Result<void*> entry = module->Symbol("ember_journal_open");
  if (!entry.ok()) return entry.status();
  Status error;
  JournalSource* source = reinterpret_cast<JournalOpenFn>(*entry)(&request, &error);
  if (source == nullptr) return error;
  return std::unique_ptr<JournalSource>(source);
}

}  // namespace ember::journal
