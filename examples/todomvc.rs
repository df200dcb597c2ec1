//! TodoMVC (<https://todomvc.com>, its application specification) on
//! x64wasm: the todos are shared by every view, and each view has its own
//! draft, filter and item being edited. Every callback runs in the page as
//! wasm transpiled from this binary, and natively on the server.
//!
//! Run it with `cargo run --release --example todomvc` (add `-- --headless`
//! for the server only, `-- --state-file todos.bin` to keep the todos
//! across restarts).
//!
//! The view uses TodoMVC's standard class names (`todoapp`, `new-todo`,
//! `todo-list`, `completed`, `editing`, `toggle`, `destroy`, `todo-count`,
//! `filters`, `selected`, `clear-completed`), so its style sheet applies;
//! `todomvc.css` is a compact one written for this example.

use std::process::ExitCode;

use bytemuck::{Pod, Zeroable};
use x64wasm::dom::{button, checked, el, value, Node, On};
use x64wasm::{callback, field, App, Both, Callback, FixedStr, FixedVec, Text};

/// The most todos the list holds.
pub const CAPACITY: usize = 256;

/// One todo.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct Todo {
    /// What to do (at most 124 bytes of UTF-8).
    pub title: FixedStr<124>,
    /// 1 when done.
    pub done: u8,
    /// Padding (keeps `id` aligned; always 0).
    pub pad: [u8; 3],
    /// A number no other todo of this list has had.
    pub id: u32,
}

/// The shared state: the todos, in order. What the view shows of them
/// (how many are left, whether all are done) it computes itself.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct Todos {
    /// The todos.
    pub items: FixedVec<Todo, CAPACITY>,
    /// The id the next todo gets.
    pub next_id: u32,
}

/// Each view's own state.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct View {
    /// What is typed in the new-todo field.
    pub draft: FixedStr<124>,
    /// What is typed in the edit field of the todo being edited.
    pub edit_text: FixedStr<124>,
    /// 0: all, 1: active, 2: completed.
    pub filter: u32,
    /// The id of the todo being edited, plus one (0: none).
    pub editing: u32,
}

type State = Both<Todos, View>;

/// The index of the todo with `id`.
fn find(todos: &Todos, id: u32) -> Option<usize> {
    todos.items.iter().position(|t| t.id == id)
}

/// The new-todo field changed.
#[no_mangle]
pub extern "C" fn set_draft(view: &mut View, text: Text) {
    view.draft.set(text.as_str());
}

/// Enter in the new-todo field: adds the trimmed text (nothing when it is
/// empty or the list is full) and clears the field.
#[no_mangle]
pub extern "C" fn add_todo(state: &mut State, text: Text) {
    let title = text.as_str().trim();
    let todos = &mut state.shared;
    let mut todo = Todo::zeroed();
    todo.title.set(title);
    todo.id = todos.next_id;
    if title.is_empty() || !todos.items.push(todo) {
        return;
    }
    todos.next_id = todos.next_id.wrapping_add(1);
    state.view.draft.clear();
}

/// A todo's checkbox.
#[no_mangle]
pub extern "C" fn toggle_todo(todos: &mut Todos, id: u32) {
    if let Some(i) = find(todos, id) {
        todos.items[i].done ^= 1;
    }
}

/// The toggle-all checkbox: every todo done, or none.
#[no_mangle]
pub extern "C" fn toggle_all(todos: &mut Todos, done: bool) {
    for todo in &mut todos.items {
        todo.done = done as u8;
    }
}

/// A todo's destroy button.
#[no_mangle]
pub extern "C" fn destroy_todo(todos: &mut Todos, id: u32) {
    if let Some(i) = find(todos, id) {
        todos.items.remove(i);
    }
}

/// Clear completed: removes every done todo.
#[no_mangle]
pub extern "C" fn clear_completed(todos: &mut Todos) {
    todos.items.retain(|t| t.done == 0);
}

/// Double click on a todo: this view edits it, starting from its title.
#[no_mangle]
pub extern "C" fn start_editing(state: &mut State, id: u32) {
    if let Some(i) = find(&state.shared, id) {
        state.view.editing = id.wrapping_add(1);
        state.view.edit_text = state.shared.items[i].title;
    }
}

/// The edit field changed.
#[no_mangle]
pub extern "C" fn set_edit_text(view: &mut View, text: Text) {
    view.edit_text.set(text.as_str());
}

/// Enter or leaving the edit field: saves the trimmed text, or deletes the
/// todo when it is empty. Only while this view edits that todo, so the
/// blur after Enter or Escape changes nothing.
#[no_mangle]
pub extern "C" fn save_edit(state: &mut State, id: u32, text: Text) {
    if state.view.editing != id.wrapping_add(1) {
        return;
    }
    state.view.editing = 0;
    let Some(i) = find(&state.shared, id) else {
        return;
    };
    let title = text.as_str().trim();
    if title.is_empty() {
        state.shared.items.remove(i);
    } else {
        state.shared.items[i].title.set(title);
    }
}

/// Escape in the edit field: stops editing, keeping the title.
#[no_mangle]
pub extern "C" fn cancel_edit(view: &mut View) {
    view.editing = 0;
}

/// The filter links: 0 all, 1 active, 2 completed (this view only).
#[no_mangle]
pub extern "C" fn show_filter(view: &mut View, filter: u32) {
    view.filter = filter.min(2);
}

const SET_DRAFT: Callback<View, (Text,)> = callback!(set_draft(Text));
const ADD_TODO: Callback<State, (Text,)> = callback!(add_todo(Text));
const TOGGLE_TODO: Callback<Todos, (u32,)> = callback!(toggle_todo(u32));
const TOGGLE_ALL: Callback<Todos, (bool,)> = callback!(toggle_all(bool));
const DESTROY_TODO: Callback<Todos, (u32,)> = callback!(destroy_todo(u32));
const CLEAR_COMPLETED: Callback<Todos> = callback!(clear_completed);
const START_EDITING: Callback<State, (u32,)> = callback!(start_editing(u32));
const SET_EDIT_TEXT: Callback<View, (Text,)> = callback!(set_edit_text(Text));
const SAVE_EDIT: Callback<State, (u32, Text)> = callback!(save_edit(u32, Text));
const CANCEL_EDIT: Callback<View> = callback!(cancel_edit);
const SHOW_FILTER: Callback<View, (u32,)> = callback!(show_filter(u32));

/// The view: TodoMVC's markup, computed from the state as it is (the
/// count and its plural, the filter, the edit field). The page runs this
/// very function, transpiled, on every state it shows, so each change
/// appears at once; the fields keep their bindings (`value_of`) so that
/// what their user types is theirs.
fn render(s: &State) -> Node {
    let (todos, view) = (&s.shared, &s.view);
    let left = todos.items.iter().filter(|t| t.done == 0).count();
    let completed = todos.items.len() - left;
    let shown = todos.items.iter().filter(|t| match view.filter {
        1 => t.done == 0,
        2 => t.done != 0,
        _ => true,
    });
    let items = shown.map(|todo| {
        let id = todo.id;
        let editing = view.editing == id.wrapping_add(1);
        el("li")
            .key(id.to_string())
            .class_if("completed", todo.done != 0)
            .class_if("editing", editing)
            .child(
                el("div")
                    .class("view")
                    .child(
                        el("input")
                            .class("toggle")
                            .attr("type", "checkbox")
                            .flag("checked", todo.done != 0)
                            .on(On::change(), TOGGLE_TODO, (id,)),
                    )
                    .child(el("label").text(todo.title.as_str()).on(
                        On::dblclick(),
                        START_EDITING,
                        (id,),
                    ))
                    .child(button("").class("destroy").call(DESTROY_TODO, (id,))),
            )
            // the edit field only for the todo this view edits
            .children(editing.then(|| {
                el("input")
                    .class("edit")
                    .value_of(field!(s, view.edit_text))
                    .focus_when(field!(s, view.editing).eq(id.wrapping_add(1)))
                    .on(On::input(), SET_EDIT_TEXT, (value(),))
                    .on(On::keydown(&["Enter"]), SAVE_EDIT, (id, value()))
                    .on(On::keydown(&["Escape"]), CANCEL_EDIT, ())
                    .on(On::blur(), SAVE_EDIT, (id, value()))
            }))
    });
    let filter = |label: &str, n: u32| {
        el("li").child(
            el("a")
                .attr("href", ["#/", "#/active", "#/completed"][n as usize])
                .class_if("selected", view.filter == n)
                .call(SHOW_FILTER, (n,))
                .text(label),
        )
    };
    let empty = todos.items.is_empty();
    el("section")
        .class("todoapp")
        .child(
            el("header")
                .class("header")
                .child(el("h1").text("todos"))
                .child(
                    el("input")
                        .class("new-todo")
                        .attr("placeholder", "What needs to be done?")
                        .attr("aria-label", "new todo")
                        .attr("autofocus", "")
                        .value_of(field!(s, view.draft))
                        .on(On::input(), SET_DRAFT, (value(),))
                        .on(On::keydown(&["Enter"]), ADD_TODO, (value(),)),
                ),
        )
        .child(
            el("section")
                .class("main")
                .flag("hidden", empty)
                .child(
                    el("input")
                        .id("toggle-all")
                        .class("toggle-all")
                        .attr("type", "checkbox")
                        .flag("checked", !empty && left == 0)
                        .on(On::change(), TOGGLE_ALL, (checked(),)),
                )
                .child(
                    el("label")
                        .attr("for", "toggle-all")
                        .text("Mark all as complete"),
                )
                .child(el("ul").class("todo-list").children(items)),
        )
        .child(
            el("footer")
                .class("footer")
                .flag("hidden", empty)
                .child(
                    el("span")
                        .class("todo-count")
                        .child(el("strong").text(left.to_string()))
                        .text(if left == 1 {
                            " item left"
                        } else {
                            " items left"
                        }),
                )
                .child(
                    el("ul")
                        .class("filters")
                        .child(filter("All", 0))
                        .child(filter("Active", 1))
                        .child(filter("Completed", 2)),
                )
                .child(
                    button("Clear completed")
                        .class("clear-completed")
                        .flag("hidden", completed == 0)
                        .call(CLEAR_COMPLETED, ()),
                ),
        )
        .into()
}

fn main() -> ExitCode {
    App::with_view_state(Todos::zeroed(), View::zeroed(), render)
        .title("x64wasm • TodoMVC")
        .id("x64wasm-todomvc-2")
        .stylesheet(include_str!("todomvc.css"))
        .view_callback(SET_DRAFT)
        .both_callback(ADD_TODO)
        .callback(TOGGLE_TODO)
        .callback(TOGGLE_ALL)
        .callback(DESTROY_TODO)
        .callback(CLEAR_COMPLETED)
        .both_callback(START_EDITING)
        .view_callback(SET_EDIT_TEXT)
        .both_callback(SAVE_EDIT)
        .view_callback(CANCEL_EDIT)
        .view_callback(SHOW_FILTER)
        .run()
}
