// Internal notes on a case (see note_store.hpp). Queries are named constants; the text goes in
// sealed and comes out only through list_case_notes.
#include "store/note_store.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "store/user_store.hpp"

namespace md::store {
namespace {

// The case, locked against a concurrent purge, and the new note's id: the seal is bound to the
// row, so the id is needed before the insert.
constexpr std::string_view lock_case_for_note_sql = R"sql(
SELECT id, personal_data_purged_at IS NOT NULL, nextval(pg_get_serial_sequence('case_notes', 'id'))
FROM cases WHERE ref = $1 FOR UPDATE)sql";

// The note, its timeline event and the case's last change, in one statement.
constexpr std::string_view insert_note_sql = R"sql(
WITH note AS (
  INSERT INTO case_notes (id, case_id, author_user_id, text_sealed) OVERRIDING SYSTEM VALUE
  VALUES ($1, $2, $3, $4)
  RETURNING id, at
), event AS (
  INSERT INTO case_events (case_id, actor, kind, data)
  SELECT $2, $5, 'note_added', jsonb_build_object('note_id', id) FROM note
), touched AS (
  UPDATE cases SET updated_at = now() WHERE id = $2
)
SELECT {} FROM note)sql";

constexpr std::string_view list_notes_sql = R"sql(
SELECT id, {}, author_user_id, text_sealed FROM case_notes WHERE case_id = $1 ORDER BY id)sql";

}  // namespace

std::string case_note_binding(std::int64_t note_id) { return fmt::format("case_notes.text:{}", note_id); }

std::optional<case_note> add_case_note(pg_connection& tx, const crypto::keyring& keys, std::string_view ref,
                                       std::int64_t author_user_id, std::string_view text) {
  auto found = tx.exec(lock_case_for_note_sql, {store::text(ref)});
  if (found.rows() == 0) return std::nullopt;
  if (found.get_bool(0, 1)) throw personal_data_purged();
  auto case_id = found.get_int(0, 0);
  auto note_id = found.get_int(0, 2);
  auto inserted = tx.exec(fmt::format(insert_note_sql, iso8601_sql("at")),
                          {number(note_id), number(case_id), number(author_user_id),
                           bytes(keys.seal(text, case_note_binding(note_id))),
                           store::text(fmt::format("user:{}", author_user_id))});
  return case_note{note_id, std::string{inserted.get(0, 0)},
                   labelled_user{author_user_id, staff_label(tx, keys, author_user_id)}, std::string{text}, false};
}

std::vector<case_note> list_case_notes(pg_connection& c, const crypto::keyring& keys, std::int64_t case_id) {
  auto r = c.exec(fmt::format(list_notes_sql, iso8601_sql("at")), {number(case_id)});
  std::vector<case_note> out;
  std::vector<std::int64_t> authors;
  for (int i = 0; i < r.rows(); ++i) {
    case_note note{r.get_int(i, 0), std::string{r.get(i, 1)}, {r.get_int(i, 2), {}}, std::nullopt, r.is_null(i, 3)};
    if (!note.purged) {
      note.text = keys.open(r.get_bytes(i, 3), case_note_binding(note.id));
      if (!note.text)
        throw std::runtime_error(fmt::format("case_notes.text: the note {} does not open (wrong master key?)", note.id));
    }
    authors.push_back(note.author.user_id);
    out.push_back(std::move(note));
  }
  auto labels = staff_labels(c, keys, authors);
  for (auto& note : out) note.author.label = labels[note.author.user_id];
  return out;
}

std::optional<std::vector<case_note>> list_case_notes(pg_connection& c, const crypto::keyring& keys,
                                                      std::string_view ref) {
  auto found = c.exec("SELECT id FROM cases WHERE ref = $1", {text(ref)});
  if (found.rows() == 0) return std::nullopt;
  return list_case_notes(c, keys, found.get_int(0, 0));
}

}  // namespace md::store
