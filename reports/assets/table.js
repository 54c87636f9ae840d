// keval report: sortable tables and ranks, on every page. Embedded into keval at build time,
// written as assets/table.js. Rows marked data-partial (runs on a subset) and cells marked
// data-unranked (other task content) are never ranked.
(function(){
'use strict';
function num(cell){if(!cell)return null;var v=cell.getAttribute('data-v');if(v===null||v==='')return null;var x=parseFloat(v);return isNaN(x)?null:x;}
function bound(cell,name,v){var b=parseFloat(cell.getAttribute(name));return isNaN(b)?v:b;}
function rank(table,col){
  var th=table.tHead.rows[0].cells[col],better=th.getAttribute('data-better');
  var rc=table.querySelector('thead th[data-key="rank"]');
  if(!better||!rc)return;
  var ri=rc.cellIndex,all=Array.prototype.slice.call(table.tBodies[0].rows);
  var rows=all.filter(function(r){return !r.hasAttribute('data-partial');});
  all.forEach(function(r){if(r.hasAttribute('data-partial'))r.cells[ri].textContent='\u2013';});
  // A cell of other task content (data-unranked) is neither ranked nor counted against others.
  var ranked=function(c){var v=num(c);return v===null||c.hasAttribute('data-unranked')?null:v;};
  rows.forEach(function(r){
    var c=r.cells[col],v=ranked(c),k=1;
    if(v===null){r.cells[ri].textContent='\u2013';return;}
    var lo=bound(c,'data-lo',v),hi=bound(c,'data-hi',v);
    rows.forEach(function(o){
      if(o===r)return;var oc=o.cells[col],ov=ranked(oc);if(ov===null)return;
      if(better==='high'?bound(oc,'data-lo',ov)>hi:bound(oc,'data-hi',ov)<lo)k++;
    });
    r.cells[ri].textContent=String(k);
  });
  table.setAttribute('data-rank-col',String(col));
  var label=document.getElementById(table.id+'-rank-by');
  if(label)label.textContent=th.getAttribute('data-label')||th.textContent;
}
function sort(table,col,dir){
  var th=table.tHead.rows[0].cells[col],type=th.getAttribute('data-type')||'num';
  var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
  var keyed=rows.map(function(r,i){var c=r.cells[col];return {r:r,i:i,n:type==='num'?num(c):null,t:c?(c.getAttribute('data-sort')||c.textContent):''};});
  keyed.sort(function(a,b){
    if(type==='num'){
      if(a.n===null&&b.n===null)return a.i-b.i;if(a.n===null)return 1;if(b.n===null)return -1;
      if(a.n!==b.n)return dir==='asc'?a.n-b.n:b.n-a.n;return a.i-b.i;
    }
    var c=a.t.localeCompare(b.t);return (dir==='asc'?c:-c)||a.i-b.i;
  });
  keyed.forEach(function(k){body.appendChild(k.r);});
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
  th.setAttribute('aria-sort',dir==='asc'?'ascending':'descending');
  rank(table,col);
}
function init(table){
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,col){
    th.addEventListener('click',function(){
      var cur=th.getAttribute('aria-sort'),type=th.getAttribute('data-type')||'num';
      var first=type==='num'&&th.getAttribute('data-key')!=='rank'&&th.getAttribute('data-better')!=='low'?'desc':'asc';
      var dir=cur?(cur==='ascending'?'desc':'asc'):first;
      sort(table,col,dir);
    });
  });
  var rc=table.getAttribute('data-rank-col');
  if(rc!==null)rank(table,parseInt(rc,10));
}
Array.prototype.forEach.call(document.querySelectorAll('table.sortable'),init);
window.kevalSort=sort;
})();
