// Dashboard charts and small behaviours of the statistics pages; bundled with Chart.js into
// static/build/dashboard.min.js by tracker/build.mjs (no inline script: the CSP forbids it).
//
// A chart is <canvas class="ux-chart" data-chart='{"type", "labels", "datasets": [{"label", "data"}]}'>.
// Labels come from tracked data (tags, event names): Chart.js draws them on the canvas and its
// tooltips are canvas-drawn too, so no HTML is ever built from them here.
import {
  BarController, BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineController,
  LineElement, PointElement, Tooltip,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, Filler, Legend, LinearScale, LineController,
  LineElement, PointElement, Tooltip);

const COLORS = ['#3461d9', '#e8710a', '#1b7f3b', '#c62828', '#7b1fa2', '#00838f', '#6d4c41', '#546e7a'];

function drawChart(canvas) {
  let spec;
  try {
    spec = JSON.parse(canvas.getAttribute('data-chart') || '{}');
  } catch (e) {
    return null;
  }
  const datasets = (spec.datasets || []).map((set, i) => ({
    label: String(set.label),
    data: set.data,
    borderColor: COLORS[i % COLORS.length],
    backgroundColor: spec.type === 'bar' ? COLORS[i % COLORS.length] : COLORS[i % COLORS.length] + '22',
    fill: spec.type !== 'bar' && (spec.datasets || []).length === 1,
    tension: 0.25,
    pointRadius: (spec.labels || []).length > 60 ? 0 : 2,
  }));
  const chart = new Chart(canvas, {
    type: spec.type === 'bar' ? 'bar' : 'line',
    data: { labels: (spec.labels || []).map(String), datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'index', intersect: false },
      plugins: { legend: { display: datasets.length > 1 } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
  canvas.setAttribute('data-drawn', 'true');
  return chart;
}

function init() {
  document.querySelectorAll('canvas.ux-chart').forEach(drawChart);

  // Range picker: choosing a preset clears the custom dates and applies at once.
  const form = document.getElementById('filter-form');
  if (form) {
    const preset = form.querySelector('[data-range-preset]');
    const dates = form.querySelectorAll('[data-range-date]');
    if (preset) {
      preset.addEventListener('change', () => {
        if (preset.value) {
          dates.forEach((input) => { input.value = ''; });
          form.submit();
        }
      });
    }
    dates.forEach((input) => input.addEventListener('change', () => { if (preset) preset.value = ''; }));
    // Empty segment fields stay out of the URL, so bookmarks stay short.
    form.addEventListener('submit', () => {
      form.querySelectorAll('input[type=text], input[type=date]').forEach((input) => {
        if (!input.value) input.disabled = true;
      });
      if (preset && !preset.value) preset.disabled = true;
    });
  }

  // The statistics tabs keep the range and segment: a segment applies to every view.
  const keep = new URLSearchParams(location.search);
  ['offset', 'sort', 'order', 'unit', 'metric', 'group', 'category', 'action'].forEach((k) => keep.delete(k));
  if ([...keep.keys()].length) {
    document.querySelectorAll('.site-nav a').forEach((link) => {
      const target = new URL(link.href, location.href);
      if (/\/sites\/\d+\/(overview|sessions|events|tags|segments)$/.test(target.pathname)) {
        target.search = keep.toString();
        link.href = target.pathname + target.search;
      }
    });
  }

  // "Select all" checkboxes: <input type=checkbox data-select-all="name">
  document.querySelectorAll('[data-select-all]').forEach((box) => {
    box.addEventListener('change', () => {
      const name = box.getAttribute('data-select-all');
      document.querySelectorAll(`input[type=checkbox][name="${name}"]`).forEach((item) => {
        item.checked = box.checked;
      });
    });
  });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
