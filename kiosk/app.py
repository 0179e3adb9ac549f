"""The Kivy app: shows the flow's current step, turns touches and device events into flow calls.

Import only after `kiosk.window.configure(...)`: importing Kivy's window creates it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import NoTransition

from lobby_core.site_config import ConfigError, DeviceConfig, KioskSiteConfig, is_loopback
from lobby_core.contract import DeviceHealth

from . import audio, screens, theme as themes
from .agent_client import PIN_FILE, AgentClient, PinStore, discover
from .backend import FlowStep, KioskBackend
from .control import ControlError, ControlServer, control_socket_path
from .devices.base import Device, DeviceEvent
from .flow import CaptureCard, Effect, Flow, FlowSettings, PrintTicket, Step
from .i18n import Catalogues
from .screens import steps
from .screens.overlays import HelpNotice, IdleWarning
from .navigation import Navigator
from .scan import ScanReader
from .screen_reader import Reader
from .speech import SpeechEngine, Utterance, Voices, record_dir_from_env, speech_health
from .spool import Spool
from .view import SiteWords, View, build_view

log = logging.getLogger("kiosk.app")

STEP_SCREENS = {
    Step.ATTRACT: steps.AttractScreen,
    Step.IDENTIFY: steps.IdentifyScreen,
    Step.MANUAL: steps.ManualScreen,
    Step.NOT_FOUND: steps.NotFoundScreen,
    Step.LOOKING_UP: steps.WaitingScreen,
    Step.CONFIRM: steps.ConfirmScreen,
    Step.SEE_DESK: steps.SeeDeskScreen,
    Step.REVIEW: steps.ReviewScreen,
    Step.CARD_ASK: steps.CardAskScreen,
    Step.CARD_SCAN: steps.CardScanScreen,
    Step.CARD_READING: steps.CardReadingScreen,
    Step.CARD_CONFIRM: steps.CardConfirmScreen,
    Step.CARD_EDIT: steps.CardEditScreen,
    Step.FORMS: steps.FormsScreen,
    Step.SUBMITTING: steps.WaitingScreen,
    Step.OFFLINE: steps.OfflineScreen,
    Step.DONE: steps.DoneScreen,
}
TICK_S = 1.0


class KioskRoot(FloatLayout):
    """The steps, the bottom bar, and the overlays the flow asks for."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._open: dict[type, ModalView] = {}

    def clear_signature(self) -> None:
        self.ids.steps.get_screen(Step.FORMS.value).ids.signature.clear()

    def show_overlays(self, view: View) -> None:
        self._show(IdleWarning, bool(view.idle_warning))
        self._show(HelpNotice, bool(view.help))

    def _show(self, overlay: type, wanted: bool) -> None:
        shown = self._open.get(overlay)
        if wanted and shown is None:
            self._open[overlay] = overlay()
            self._open[overlay].open(animation=False)
        elif not wanted and shown is not None:
            shown.dismiss(animation=False)
            del self._open[overlay]


class KioskApp(App):
    view: View = ObjectProperty(None, rebind=True)
    theme: themes.Theme = ObjectProperty(None, rebind=True)
    large_text = BooleanProperty(False)
    high_contrast = BooleanProperty(False)
    brand_logo = StringProperty("")
    landscape = BooleanProperty(False)
    can_speak = BooleanProperty(False)
    staff_status = StringProperty("")

    def __init__(
        self,
        site: KioskSiteConfig,
        *,
        device_configs: list[DeviceConfig] | None = None,
        connect: Callable[[], AgentClient | None] | None = None,
        read_scan: Callable[[str], object] | None = None,
        card_feeder: Callable[[], object] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        problems = themes.branding_problems(site.kiosk.brand_accent, site.kiosk.brand_logo)
        if problems:
            raise ConfigError(problems)
        self.site = site
        kiosk = site.kiosk
        self.panel = themes.Panel(kiosk.panel_diagonal_in, kiosk.pixel_pitch_mm, kiosk.panel_bottom_mm)
        self.theme = self._build_theme((1080, 1920) if kiosk.orientation == "portrait" else (1920, 1080))
        self.brand_logo = str(kiosk.brand_logo) if kiosk.brand_logo else ""
        self.words = SiteWords(kiosk.rooms, kiosk.welcome_line, site.site.default_language)
        self.catalogues = Catalogues.load(site.translations_dir, site.site.default_language)
        self.device_configs = list(site.kiosk.devices if device_configs is None else device_configs)
        self.devices: list[Device] = []
        # The insurance card scanner is asked for a card, not listened to: the card worker holds it.
        self.card_config = next((device for device in self.device_configs if device.kind == "card_scanner"), None)
        self._card_feeder = card_feeder  # the simulated scanner's "a card was put in" (kiosk run --simulate)
        self.card_worker = None
        kiosk = site.kiosk
        settings = FlowSettings(
            kiosk_id=kiosk.id,
            languages=tuple(code for code in site.site.languages if code in self.catalogues.languages) or ("en",),
            idle_timeout_s=kiosk.idle_timeout_s,
            idle_warning_s=kiosk.idle_warning_s,
            idle_timeout_form_s=kiosk.idle_timeout_form_s,
            done_on_screen_max_s=kiosk.done_on_screen_max_s,
            device_kinds={device.label: device.kind for device in self.device_configs},
            card_scanner=self.card_config is not None,
        )
        self.flow = Flow(
            settings,
            clock=Clock.get_boottime,
            read_scan=read_scan or ScanReader(kiosk.reminder_public_key, site.site.id),
            date_order=lambda language: self.catalogues.locale(language).date_order,
        )
        self.spool = Spool(kiosk.spool_dir, kiosk.ticket_prefix)
        self.backend = KioskBackend(
            self.flow,
            self.spool,
            connect or self._connect,
            self._deliver,
            print_ticket=self._print_ticket,
            device_health=self._device_health,
            app_version=_installed_version(),
        )
        self.title = self.catalogues.text(settings.default_language, "app.window_title", clinic=site.site.name)
        self.audio_status = audio.probe()
        self.voices = Voices.discover()
        self.speech = SpeechEngine(self._play_speech, record_dir=record_dir_from_env())
        self.can_speak = self.audio_status.usable and bool(self.voices.installed)
        self._sound = None
        self.navigator: Navigator | None = None
        self._jack = audio.JackWatcher(audio.HeadphoneJack(kiosk.headphone_jack),
                                       lambda plugged: Clock.schedule_once(lambda _dt: self._headphones(plugged)))  # fmt: skip
        self._shown_form = 0
        self._shown_step = ""
        self._control: ControlServer | None = None
        self.restart_requested = False  # remote support asked for a restart: kiosk/launch.py re-executes
        self.view = build_view(self.flow, self.catalogues, site.site.name, site.site.timezone, self.words)

    # --- Kivy lifecycle ----------------------------------------------------------------------------

    def build(self):
        screens.load_layouts()
        root = KioskRoot()
        manager = root.ids.steps
        manager.transition = NoTransition()
        for step, screen_class in STEP_SCREENS.items():
            manager.add_widget(screen_class(name=step.value))
        Window.bind(size=self._on_window_size, on_touch_down=self._on_any_touch)
        self._on_window_size(Window, Window.size)
        self.navigator = Navigator(self, self.site.kiosk.keypad_keys.model_dump(), self.say)
        return root

    def on_start(self) -> None:
        from . import support
        from .devices.registry import open_devices

        self.navigator.attach()
        self._jack.start()

        self.backend.attach_support(support.for_app(self), self.site.kiosk.spool_dir)
        self.backend.start()
        self.devices = open_devices(self.device_configs, self.device_event, self.site.translations_dir)
        if self.card_config is not None:
            from .card_capture import source_for
            from .card_worker import CardWorker

            self.card_worker = CardWorker(self.flow, source_for(self.card_config), self._deliver,
                                          before_capture=self._card_feeder).start()  # fmt: skip
            self.card_worker.name = self.card_config.label
        self._control = self._start_control_server()
        Clock.schedule_interval(lambda _dt: self._run(self.flow.tick), TICK_S)
        self.refresh()

    def on_stop(self) -> None:
        if self._control is not None:
            self._control.stop()
        for device in self.devices:
            device.close()
        if self.card_worker is not None:
            self.card_worker.stop()
        self.backend.stop()
        self.spool.close()
        self._jack.stop()
        self.speech.close()

    # --- what screens call ---------------------------------------------------------------------

    def act(self, action: str, *args) -> None:
        """A patient action: `app.act("confirm")`, `app.act("key", "A")`, `app.act("choose_language", "es")`."""
        self._run(lambda: getattr(self.flow, action)(*args))

    def sign_on_screen(self, area) -> None:
        signature = area.signature()
        if signature is None:
            self.flow.notice = "forms.need_signature"
            self.refresh()
            return
        self._run(lambda: self.flow.sign(signature))

    def clear_signatures(self) -> None:
        """'Clear' on the forms screen: the ink on screen and anything half-drawn on the pad."""
        self._clear_ink()
        self.act("clear_signature")

    def _clear_ink(self) -> None:
        self.root.clear_signature()
        for device in self.devices:
            if device.kind == "signature_pad":
                device.clear()

    def toggle_large_text(self) -> None:
        self.large_text = not self.large_text
        self._on_window_size(Window, Window.size)

    def toggle_high_contrast(self) -> None:
        self.high_contrast = not self.high_contrast
        self._on_window_size(Window, Window.size)

    def _build_theme(self, size) -> themes.Theme:
        return themes.build(self.panel, tuple(size), large_text=self.large_text, high_contrast=self.high_contrast,
                            accent=self.site.kiosk.brand_accent)  # fmt: skip

    def read_aloud(self) -> None:
        """What the screen says (title, content, fields and their values, buttons), not its keys."""
        self.say(Reader(self).utterance(self.navigator.scope()[0]))

    def say(self, utterance: Utterance) -> None:
        if self.can_speak:
            self.speech.say(utterance, self.voice_for(self.flow.language).voice)

    def voice_for(self, language: str):
        wanted = self.catalogues.locale(language).speech_voice if language in self.catalogues.languages else ""
        return self.voices.choose(language, wanted)

    def _play_speech(self, path: Path, _utterance: Utterance) -> None:
        """The speech worker's WAV: played on the Kivy thread, the newest sentence cutting the old one off."""
        Clock.schedule_once(lambda _dt: self._play_now(path))

    def _play_now(self, path: Path) -> None:
        from kivy.core.audio import SoundLoader

        if self._sound is not None:
            self._sound.stop()
        self._sound = SoundLoader.load(str(path))
        path.unlink(missing_ok=True)  # SDL holds the samples in memory
        if self._sound is not None:
            self._sound.play()

    def _headphones(self, plugged: bool) -> None:
        if self.navigator is not None:
            self.navigator.headphones_changed(plugged)

    def staff_unlock(self, pin: str) -> bool:
        if pin != self.site.kiosk.staff_pin:
            return False
        lines = [self.view.t("staff.agent_online" if self.flow.agent_online else "staff.agent_offline")]
        lines.append(self.view.t("staff.spool", count=self.spool.depth()))
        health = self._device_health()
        for device in health:
            state = self.view.t(f"state.{device.state}")
            lines.append(self.view.t("staff.device", name=device.name, kind=device.kind, state=state, reason=device.reason))
        if not health:
            lines.append(self.view.t("staff.no_devices"))
        self.staff_status = "\n".join(lines)
        return True

    # --- events from devices and the backend -----------------------------------------------------

    def device_event(self, event: DeviceEvent) -> None:
        """The drivers' callback: runs on a driver thread, so hand the event to the Kivy thread."""
        Clock.schedule_once(lambda _dt: self._run(lambda: self.flow.device_event(event)))

    def _deliver(self, step: FlowStep) -> None:
        Clock.schedule_once(lambda _dt: self._run(step))

    def _run(self, step: Callable[[], list[Effect]]) -> None:
        effects = step()
        for effect in effects:
            if isinstance(effect, CaptureCard) and self.card_worker is not None:
                self.card_worker.capture(effect)
        self.backend.run([effect for effect in effects if not isinstance(effect, CaptureCard)])
        self.refresh()

    def refresh(self) -> None:
        view = build_view(self.flow, self.catalogues, self.site.site.name, self.site.site.timezone, self.words)
        if view != self.view:
            self.view = view
        if self.root is None:
            return
        manager = self.root.ids.steps
        if manager.current != view.step:
            manager.current = view.step
        if view.step != self._shown_step:
            self._card_step_left(self._shown_step, view.step)
            self._shown_step = view.step
        if view.form_number != self._shown_form:  # a new form, or none: read from the top, fresh ink
            self._shown_form = view.form_number
            forms = self.root.ids.steps.get_screen(Step.FORMS.value)
            forms.ids.scroller.scroll_y = 1
            Clock.schedule_once(lambda _dt: forms.scrolled(), 0.1)  # a short form fits: its end is shown
            self._clear_ink()
        self.root.show_overlays(view)

    def _card_step_left(self, before: str, now: str) -> None:
        """Leaving the reading screen stops a capture still waiting; the end of a session empties the
        card scanner's folder of anything put in late."""
        if self.card_worker is None:
            return
        if before == Step.CARD_READING.value:
            self.card_worker.cancel()
        if now in (Step.DONE.value, Step.ATTRACT.value) and before not in ("", Step.DONE.value, Step.ATTRACT.value):
            self.card_worker.forget()

    def _on_any_touch(self, _window, _touch) -> None:
        self.flow.session.touch()  # reading and scrolling count as being there

    def _on_window_size(self, _window, size) -> None:
        width, height = size
        self.landscape = width > height
        self.theme = self._build_theme(size)

    # --- services the backend uses ---------------------------------------------------------------

    def _connect(self) -> AgentClient | None:
        kiosk = self.site.kiosk
        url = kiosk.agent_url
        if not url:
            host = self.site.agent.host
            interfaces = [host] if is_loopback(host) else None
            url = discover(interfaces or _all_interfaces(), self.site.site.id, kiosk.agent_fingerprint)
        pins = PinStore(kiosk.spool_dir / PIN_FILE, kiosk.agent_fingerprint)  # survives restarts mid-rotation
        return AgentClient(url, kiosk.token, kiosk.agent_fingerprint, pins=pins) if url else None

    def _device_health(self) -> list[DeviceHealth]:
        """The devices' health, the audio output's and the voices' (so the desk sees a kiosk that cannot speak)."""
        return self._devices_health() + self._speech_health()

    def _devices_health(self) -> list[DeviceHealth]:
        """The drivers' last known states and the card scanner's (which is not opened for it)."""
        card = [self.card_worker.health()] if self.card_worker is not None else []
        return [device.health() for device in self.devices] + card

    def _speech_health(self) -> list[DeviceHealth]:
        voices = [self.voice_for(language) for language in self.flow.settings.languages]
        return [self.audio_status.health(), speech_health(voices)]

    def _start_control_server(self) -> ControlServer | None:
        """`kiosk doctor` asks here for the devices' states instead of opening the devices this app holds."""
        path = control_socket_path(self.site.kiosk)
        try:
            return ControlServer(path, {"devices": self._control_devices}).start()
        except (OSError, ControlError) as exc:  # ControlSocketBusy: another kiosk answers there
            log.error("no control socket at %s (kiosk doctor will not see this kiosk): %s", path, exc)
            return None

    def _control_devices(self) -> dict:
        """Runs on the control thread: the drivers' last known states and the audio found at start (the
        devices and the sound card themselves are not touched)."""
        devices = [health.model_dump() for health in self._devices_health()]
        speech = [health.model_dump() for health in self._speech_health()]
        return {"kiosk": self.site.kiosk.id, "pid": os.getpid(), "devices": devices, "speech": speech}

    def _print_ticket(self, job: PrintTicket) -> bool:
        from .devices.ticket import Ticket

        printers = [device for device in self.devices if device.kind == "receipt_printer"]
        if not printers:
            return False
        ticket = Ticket(
            clinic_name=self.site.site.name,
            number=job.ticket,
            qr_payload=f"ticket:{job.ticket}",
            issued_at=dt.datetime.now(dt.timezone.utc),
            language=job.language,
        )
        return printers[0].print_ticket(ticket).printed


def _installed_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("lobby-checkin")
    except metadata.PackageNotFoundError:
        return ""


def _all_interfaces():
    from zeroconf import InterfaceChoice

    return InterfaceChoice.All

