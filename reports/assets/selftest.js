// keval report: the leaderboard's self-test. Embedded into keval at build time, written as
// assets/selftest.js. Loaded with #selftest, the index clicks the header of the first score column
// of the ranked table it is not sorted by (or the one named by #selftest=KEY) and writes what the
// table then holds, and how wide tables fit the window, into <pre id="selftest-result">, so a
// headless browser's --dump-dom shows that the page really sorts and scrolls.
(function(){
'use strict';
var h=location.hash;if(h.indexOf('#selftest')!==0)return;
var table=document.getElementById('board');if(!table)return;
var want=h.indexOf('=')>0?decodeURIComponent(h.slice(h.indexOf('=')+1)):null,target=null,seen=0;
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th){
  if(!th.getAttribute('data-better'))return;seen++;
  if(want?th.getAttribute('data-key')===want:(!target&&!th.getAttribute('aria-sort')))target=th;
});
var result={rows:table.tBodies[0].rows.length,column:null,order:[],values:[],ranks:[]};
if(target){
  target.click();
  var col=target.cellIndex,rc=table.querySelector('thead th[data-key="rank"]');
  result.column=target.getAttribute('data-key');result.direction=target.getAttribute('aria-sort');
  Array.prototype.forEach.call(table.tBodies[0].rows,function(r){
    result.order.push(r.getAttribute('data-run'));
    var v=r.cells[col].getAttribute('data-v');result.values.push(v===null?null:parseFloat(v));
    result.ranks.push(rc?r.cells[rc.cellIndex].textContent:null);
  });
}
// Wide tables: each sits in a box that scrolls sideways; the page itself is never wider than the window.
result.page_width=document.documentElement.scrollWidth;result.window_width=window.innerWidth;result.scroll=[];
Array.prototype.forEach.call(document.querySelectorAll('.scroll'),function(box){
  var t=box.querySelector('table');
  result.scroll.push({table:t?t.id:null,scroll_width:box.scrollWidth,client_width:box.clientWidth,overflow_x:getComputedStyle(box).overflowX});
});
var pre=document.createElement('pre');pre.id='selftest-result';pre.textContent=JSON.stringify(result);
document.body.appendChild(pre);
})();
