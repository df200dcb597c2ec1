//! The desktop window: a tao window with a wry webview (WebKitGTK on Linux)
//! showing the app's own server, so it is one more view like any browser.

use tao::dpi::LogicalSize;
use tao::event::{Event, WindowEvent};
use tao::event_loop::{ControlFlow, EventLoopBuilder};
use tao::window::WindowBuilder;
use wry::WebViewBuilder;

/// Opens the window on `url` and runs its event loop on this (the main)
/// thread. Closing the window ends the process (exit status 0). `Err` when no
/// window can be made (GTK cannot open the display, …).
pub fn open(url: &str, title: &str) -> Result<(), String> {
    // tao panics when GTK cannot start; that is a "no window" answer here.
    let event_loop = std::panic::catch_unwind(|| EventLoopBuilder::new().build())
        .map_err(|_| "the display cannot be opened".to_string())?;
    let window = WindowBuilder::new()
        .with_title(title)
        .with_inner_size(LogicalSize::new(900.0, 760.0))
        .build(&event_loop)
        .map_err(|e| format!("cannot create the window: {e}"))?;
    let builder = WebViewBuilder::new().with_url(url);
    #[cfg(target_os = "linux")]
    let webview = {
        use tao::platform::unix::WindowExtUnix;
        use wry::WebViewBuilderExtUnix;
        let vbox = window.default_vbox().ok_or("the window has no GTK box")?;
        builder.build_gtk(vbox)
    };
    #[cfg(not(target_os = "linux"))]
    let webview = builder.build(&window);
    let webview = webview.map_err(|e| format!("cannot create the webview: {e}"))?;
    println!("x64wasm: desktop window open on {url}");
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        let _keep = (&window, &webview);
        if let Event::WindowEvent {
            event: WindowEvent::CloseRequested,
            ..
        } = event
        {
            println!("x64wasm: window closed");
            *control_flow = ControlFlow::Exit;
        }
    })
}
